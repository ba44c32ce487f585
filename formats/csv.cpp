#include "formats/csv.hpp"

namespace sg::csv {

bool Reader::read_line(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++line_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

bool Reader::next(Record& out) {
  out.cells.clear();
  if (failed_) return false;
  // Blank lines between records are not records.
  do {
    if (!read_line(buf_)) return false;
    if (line_ == 1 && buf_.starts_with("\xEF\xBB\xBF")) buf_.erase(0, 3);
  } while (buf_.empty());
  out.line = line_;
  auto too_long = [this, &out](const char* hint) {
    error_ = "line " + std::to_string(out.line) + ": a record longer than " +
             std::to_string(kMaxRecord) + " bytes" + hint;
    failed_ = true;
    return false;
  };
  if (buf_.size() > kMaxRecord) return too_long("");
  std::string cell;
  bool quoted = false;     // inside a quoted part of the cell
  bool fresh = true;       // nothing of the cell read yet
  std::size_t length = 0;  // of the record so far
  std::size_t i = 0;
  for (;;) {
    if (i == buf_.size()) {
      if (!quoted) break;
      // A line break inside quotes belongs to the cell.
      length += buf_.size() + 1;
      if (!read_line(buf_)) {
        error_ = "line " + std::to_string(out.line) +
                 ": a quoted cell is still open at the end of the file";
        failed_ = true;
        return false;
      }
      if (length + buf_.size() > kMaxRecord) return too_long(" (a quote never closed?)");
      cell += '\n';
      i = 0;
      continue;
    }
    const char c = buf_[i++];
    const bool first = fresh;
    fresh = false;
    if (quoted) {
      if (c != '"') {
        cell += c;
      } else if (i < buf_.size() && buf_[i] == '"') {
        cell += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == ',') {
      out.cells.push_back(std::move(cell));
      cell.clear();
      fresh = true;
    } else if (c == '"' && first) {
      quoted = true;
    } else {
      cell += c;
    }
  }
  out.cells.push_back(std::move(cell));
  return true;
}

std::string quote(std::string_view cell) {
  const bool plain = cell.find_first_of(",\"\r\n") == std::string_view::npos &&
                     !cell.starts_with("\xEF\xBB\xBF") &&
                     (cell.empty() || (cell.front() != ' ' && cell.back() != ' ' &&
                                       cell.front() != '\t' && cell.back() != '\t'));
  if (plain) return std::string(cell);
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace sg::csv
