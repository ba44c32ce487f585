// set_stream_mode (ctl/stream_mode.hpp): an edit of one line of the
// operator's own file. The file is read as lines rather than re-written from
// a TOML tree, so comments, order and layout stay as the operator wrote
// them; the caller parses the result to prove the edit did what it says.
#include <regex>

#include "ctl/stream_mode.hpp"

namespace sg {
namespace {

struct Line {
  std::string body;  // without the line ending
  std::string end;   // "\n", "\r\n" or "" (the last line)
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl), end = nl == std::string_view::npos ? "" : "\n";
    if (!end.empty() && !line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
      end = "\r\n";
    }
    out.push_back({std::string(line), std::string(end)});
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// One [[stream]] table: where its name and mode lines are (-1: none).
struct StreamTable {
  long name_line = -1, mode_line = -1;
};

// The [[stream]] table named `stream`, found by its `name = "..."` line.
std::optional<StreamTable> find_table(const std::vector<Line>& lines, const std::string& stream) {
  static const std::regex name_re(R"(name\s*=\s*(["'])([^"']*)\1\s*(#.*)?)");
  static const std::regex mode_re(R"(mode\s*=.*)");
  auto named = [&](const StreamTable& t) {
    if (t.name_line < 0) return false;
    std::smatch m;
    const std::string text(trimmed(lines[static_cast<std::size_t>(t.name_line)].body));
    return std::regex_match(text, m, name_re) && m[2] == stream;
  };
  std::optional<StreamTable> current;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t(trimmed(lines[i].body));
    if (t.starts_with("[")) {  // a table header ends the table before it
      if (current && named(*current)) return current;
      current.reset();
      if (t.starts_with("[[stream]]")) current.emplace();
      continue;
    }
    if (!current) continue;
    if (std::regex_match(t, name_re)) current->name_line = static_cast<long>(i);
    if (std::regex_match(t, mode_re)) current->mode_line = static_cast<long>(i);
  }
  if (current && named(*current)) return current;
  return std::nullopt;
}

}  // namespace

std::optional<ModeEdit> set_stream_mode(std::string_view toml, const std::string& stream,
                                        StreamMode mode, std::string& error) {
  auto lines = split_lines(toml);
  const auto table = find_table(lines, stream);
  if (!table) {
    error = "no [[stream]] table with the line name = \"" + stream + "\"";
    return std::nullopt;
  }
  ModeEdit edit;
  const std::string value = "\"" + std::string(to_string(mode)) + "\"";
  if (table->mode_line >= 0) {
    Line& l = lines[static_cast<std::size_t>(table->mode_line)];
    static const std::regex value_re(R"(^(\s*mode\s*=\s*)(["'])[^"']*\2(.*)$)");
    std::smatch m;
    if (!std::regex_match(l.body, m, value_re)) {
      error = "its mode line is not a plain string: " + l.body;
      return std::nullopt;
    }
    edit.before = l.body;
    l.body = m[1].str() + value + m[3].str();
    edit.line = static_cast<int>(table->mode_line) + 1;
    edit.after = l.body;
  } else {
    Line& name = lines[static_cast<std::size_t>(table->name_line)];
    const std::string_view body = name.body;
    const std::string indent(body.substr(0, body.size() - trimmed(body).size()));
    if (name.end.empty()) name.end = "\n";  // the name was the file's last line
    const Line added{indent + "mode = " + value, name.end};
    lines.insert(lines.begin() + table->name_line + 1, added);
    edit.line = static_cast<int>(table->name_line) + 2;
    edit.after = indent + "mode = " + value;
  }
  for (const auto& l : lines) edit.text += l.body + l.end;
  return edit;
}

}  // namespace sg
