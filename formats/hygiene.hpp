// Content hygiene of one outgoing message (brief rule 7), found by a pure,
// streaming scanner fed the way a milter receives the message: the top-level
// headers one by one, then the body in chunks of any size. No I/O, no
// libmilter; memory stays bounded whatever the input (the body is never
// buffered, only the current line up to a limit).
//
// What it finds:
//   - Message-ID: its domain, and whether that domain is local (see
//     is_local_domain): ids like <uuid@localhost.localdomain> or
//     <x@a3f9c2e1b7d4> (a container id) hurt deliverability.
//   - MIME: whether the message has a text/html part and no text/plain
//     alternative anywhere (HTML-only mail scores as spam). Parts with
//     "Content-Disposition: attachment" count as attachments, neither as the
//     HTML nor as the text alternative: a text/html file attached next to a
//     text/plain body is fine, an HTML body with a .txt attached is not.
//     message/* parts are opaque (an attached message's own parts are not
//     the sender's content). A part without Content-Type is text/plain
//     (message/rfc822 inside multipart/digest), and so is one whose
//     Content-Type does not parse (RFC 2045 5.2).
//   - One-click unsubscribe (RFC 8058): List-Unsubscribe with an https: URI
//     and List-Unsubscribe-Post: List-Unsubscribe=One-Click. (RFC 8058 also
//     wants a DKIM signature covering both fields; the caller checks that
//     from dkim_signatures.)
//   - From: the first mailbox's address and lowercase domain (the caller
//     compares it with the bulk subdomain), and whether there is more than one.
//   - The raw value of every DKIM-Signature header.
//
// Boundary lines (RFC 2046 5.1.1): a line is a delimiter of an enclosing
// multipart when it is "--" + boundary followed only by whitespace, and its
// close delimiter when "--" + boundary is followed by "--" (anything after
// that is tolerated). Boundaries of every enclosing multipart are checked,
// innermost first; an outer boundary ends the inner multiparts still open.
// Lines end with CRLF; a bare LF is tolerated. Parameter values continued or
// encoded per RFC 2231 (boundary*0=...) are not decoded.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::hygiene {

// Limits. Beyond one of the MIME limits the scanner stops looking at the body
// and reports truncated (with the reason); what it found up to there stays.
inline constexpr std::size_t kMaxDepth = 16;  // nested multiparts, top level included
// RFC 2046 allows 70; longer ones are tolerated up to this.
inline constexpr std::size_t kMaxBoundaryLength = 200;
inline constexpr std::size_t kMaxParts = 1000;  // delimiter lines in the whole message
// One physical header line inside the body (RFC 5322 says 998).
inline constexpr std::size_t kMaxPartHeaderLine = 4096;
// One unfolded Content-Type / Content-Disposition, at top level or in a part.
inline constexpr std::size_t kMaxHeaderField = 16384;
// Top-level headers whose value is kept or parsed (From, Message-ID,
// List-Unsubscribe, DKIM-Signature, ...); a longer one is skipped (truncated).
inline constexpr std::size_t kMaxHeaderValue = 65536;
inline constexpr std::size_t kMaxDkimSignatures = 32;  // more are counted, not kept

// What one message looks like. A *_problem text is "" when all is well,
// otherwise a sentence for a person (a log line, a reject text).
struct Findings {
  // Message-ID (the first one when there are several).
  bool message_id_present = false;
  std::string message_id;          // between '<' and '>'
  std::string message_id_domain;   // right of the last '@', lowercase, "" when none
  bool local_message_id = false;   // domain missing or is_local_domain()
  std::string message_id_problem;  // "Message-ID <x@localhost.localdomain> is on a local domain"

  // MIME structure.
  // Top level, "type/subtype", lowercase; "" when its header was too long to parse.
  std::string content_type = "text/plain";
  std::size_t parts = 0;             // leaf parts (a non-multipart message is one)
  std::size_t text_plain_parts = 0;  // inline text/plain leaves
  std::size_t text_html_parts = 0;   // inline text/html leaves
  std::size_t attachments = 0;       // leaves with Content-Disposition: attachment
  // text_html_parts > 0 and text_plain_parts == 0. When truncated it covers
  // only the part of the message before the limit.
  bool html_without_text = false;
  std::string mime_problem;
  bool truncated = false;
  std::string truncated_reason;  // which limit, "" unless truncated

  // Unsubscribe (all List-Unsubscribe / List-Unsubscribe-Post fields together).
  bool list_unsubscribe = false;         // a <https:...> or <mailto:...> URI is there
  bool list_unsubscribe_https = false;   // a <https:...> URI is there
  bool list_unsubscribe_mailto = false;  // a <mailto:...> URI is there
  bool one_click = false;                // List-Unsubscribe-Post is List-Unsubscribe=One-Click
  std::string unsubscribe_problem;       // what RFC 8058 one-click still lacks

  // From (the first mailbox of the first From field).
  bool from_present = false;
  std::string from_address;    // "user@domain" as written, whitespace and comments removed
  std::string from_domain;     // lowercase, "" when the address has none
  bool multiple_from = false;  // several mailboxes, or several From fields
  std::string from_problem;

  std::vector<std::string> dkim_signatures;  // raw values, in header order
  std::size_t dkim_signatures_dropped = 0;   // beyond kMaxDkimSignatures or too long

  // Every non-empty *_problem text, and the truncation reason.
  std::vector<std::string> problems() const;

  bool operator==(const Findings&) const = default;
};

// Feed a message as a milter receives it:
//   header(name, value)  once per top-level header, in order; value as the
//                        milter gives it (folded lines keep CRLF + whitespace)
//   end_of_headers()
//   body(chunk)          any number of times, chunks split anywhere
//   finish()             once, at end of message
// body() and finish() call end_of_headers() when it was not called; headers
// given after end_of_headers() are ignored. One scanner per message.
class MessageScanner {
 public:
  void header(std::string_view name, std::string_view value);
  void end_of_headers();
  void body(std::string_view chunk);
  Findings finish();

  // Bytes the scanner holds for the body (current line, current part header,
  // open boundaries): bounded by the limits above, whatever the input.
  std::size_t buffered_bytes() const;

 private:
  enum class State {
    body,          // inside a leaf part, a preamble or an epilogue: look for boundaries
    part_headers,  // reading the headers of a part
    done,          // nothing more to look at (a leaf message, the end, or truncated)
  };
  struct Frame {
    std::string boundary;
    bool digest = false;  // multipart/digest: parts default to message/rfc822
  };

  void add_line_bytes(std::string_view bytes);
  void end_line();
  void body_line(std::string_view line, bool long_tail);
  bool boundary_line(std::string_view line, bool long_tail);
  // (index into stack_, close delimiter?) when the line is a boundary line.
  std::optional<std::pair<std::size_t, bool>> match_boundary(std::string_view line,
                                                             bool tail_nonblank) const;
  void apply_boundary(std::size_t frame, bool close);
  void header_line(std::string_view line);
  void commit_part_header();
  // no_body: the part ended before its body (a boundary or the end of the
  // message cut its headers short): a multipart is not opened.
  void end_part_headers(bool no_body);
  // A part (or the message) with this Content-Type / Content-Disposition:
  // counts a leaf or opens a multipart.
  void enter_entity(std::string_view content_type, bool has_content_type,
                    std::string_view disposition, bool top_level, bool no_body);
  std::size_t line_cap() const;
  void note_truncated(std::string reason);
  void stop(std::string reason);  // note_truncated, and look at no more of the body

  void parse_message_id(std::string_view value);
  void parse_from(std::string_view value);
  void parse_list_unsubscribe(std::string_view value);

  Findings f_;
  bool headers_done_ = false;
  bool finished_ = false;
  bool have_content_type_ = false;
  bool content_type_too_long_ = false;
  std::string content_type_;  // the top-level Content-Type value
  bool seen_list_unsubscribe_ = false;
  bool seen_post_ = false;
  std::string first_post_;  // the first List-Unsubscribe-Post value, for the problem text
  std::size_t delimiters_ = 0;

  State state_ = State::done;
  std::vector<Frame> stack_;

  // The current body line: its first bytes, and whether bytes beyond the cap
  // were dropped (long_) and all of them whitespace (long_blank_).
  std::string line_;
  std::size_t line_cap_ = 0;
  bool long_ = false;
  bool long_blank_ = true;

  // The part header being read (only Content-Type and Content-Disposition).
  enum class PartField { none, content_type, disposition, other };
  PartField field_ = PartField::none;
  std::string field_value_;
  bool part_has_type_ = false;
  bool part_has_disposition_ = false;
  std::string part_type_;
  std::string part_disposition_;  // the disposition type, lowercase
};

// Feeds the header section of a whole message (header fields up to the empty
// line) to `scanner` the way a milter gets them: one header() per field,
// name without the colon, value without the whitespace after the colon and
// with its folding kept; then end_of_headers(). A line that is not a header
// field ends the headers (Postfix does the same). Returns where the body
// starts in `message`.
std::size_t feed_headers(MessageScanner& scanner, std::string_view message);

// Scans a whole message: feed_headers, then the body in chunks of `chunk`
// bytes (0: one chunk), then finish().
Findings scan_message(std::string_view message, std::size_t chunk = 0);

// True for a domain that cannot be a sender's public DNS name, i.e. one that
// must not end a Message-ID: empty; an address literal ("[10.0.0.5]"); a
// single label ("localhost", "localdomain", a container id "a3f9c2e1b7d4");
// an all-numeric last label (a bare IPv4 address); or a name under a TLD that
// is reserved or never delegated for private use: .localhost (RFC 6761),
// .localdomain, .local (mDNS, RFC 6762), .internal (ICANN, 2024), .home.arpa
// (RFC 8375), .lan, .home, .corp, .test, .example, .invalid (RFC 2606).
// Case-insensitive; one trailing dot is ignored.
bool is_local_domain(std::string_view domain);

// A parsed Content-Type (RFC 2045 5.1): type and subtype lowercase,
// parameter names lowercase, values unquoted (case kept). Comments and
// folding are skipped; a value not quoted is taken up to ';', whitespace or
// '(' (so boundary=----=_Part_1 works though '=' should be quoted). The first
// of repeated parameters wins. valid is false when there is no type/subtype.
struct ContentType {
  bool valid = false;
  std::string type;
  std::string subtype;
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<std::string> param(std::string_view name) const;  // name lowercase
};
ContentType parse_content_type(std::string_view value);

}  // namespace sg::hygiene
