// CSV as spreadsheets, Listmonk's exports and the sender's audience builder
// write it (RFC 4180, read leniently): comma-separated cells; a cell in
// double quotes may hold commas, line breaks and "" for a quote; CRLF or LF
// line ends; a UTF-8 byte-order mark before the first cell is skipped; blank
// lines are skipped. Streamed from an istream one record at a time, so a
// file of a million rows never sits in memory whole.
//
// Lenient where the meaning is plain: a quote inside an unquoted cell is
// kept as a character, and text after a closing quote is appended to the
// cell. An error only where it is not: a quoted cell still open at the end
// of the file, or a record (its lines together) longer than kMaxRecord (a
// missing closing quote would otherwise swallow the rest of the file).
// After an error the reader stops.
//
// quote() writes one cell back: it is quoted only when it must be, and
// reading it back gives the same text.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace sg::csv {

inline constexpr std::size_t kMaxRecord = 1 << 20;  // 1 MiB

struct Record {
  std::vector<std::string> cells;
  std::size_t line = 0;  // the line it starts on, from 1
};

class Reader {
 public:
  explicit Reader(std::istream& in) : in_(in) {}
  // The next record into `out`; false at the end of the input or on an
  // error (error() then says what, with the line).
  bool next(Record& out);
  const std::string& error() const { return error_; }
  // Lines read so far (for a progress line).
  std::size_t lines() const { return line_; }

 private:
  bool read_line(std::string& line);

  std::istream& in_;
  std::size_t line_ = 0;
  bool failed_ = false;
  std::string error_;
  std::string buf_;
};

// The cell as it goes into a CSV file: as is, or in double quotes (with ""
// for a quote) when it holds a comma, a quote, a line break or leading or
// trailing space (or a byte-order mark, which a first line would lose).
std::string quote(std::string_view cell);

}  // namespace sg::csv
