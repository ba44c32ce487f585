#include "rampd/pg_conn.hpp"

#include <cstring>

#include "common/text.hpp"

namespace sg::pg {

std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof buf);  // the GNU variant: returns the text
}

std::string one_line(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : text::trim(s)) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string quote_conninfo(const std::string& v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '\'' || c == '\\' || c == '\t') plain = false;
  if (plain) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::map<std::string, std::string> conninfo_values(const std::string& dsn, std::string* error) {
  std::map<std::string, std::string> out;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    if (error) *error = err ? one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return out;
  }
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

std::string scrub(std::string text, const std::string& password) {
  if (password.size() < 4) return text;
  for (size_t at; (at = text.find(password)) != std::string::npos;)
    text.replace(at, password.size(), "***");
  return text;
}

}  // namespace sg::pg
