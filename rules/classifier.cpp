#include "rules/classifier.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/text.hpp"

namespace sg {
namespace {

constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxName = 253;

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// A byte allowed inside a label: ASCII letter, digit, '-', or any byte >= 0x80
// (UTF-8 kept as-is; IDNs normally arrive as A-labels anyway).
bool is_label_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || u >= 0x80;
}

// Lowercases, strips one trailing dot and validates. nullopt when the name is
// empty, has an empty or over-long label, is over-long, or has a byte that is
// not a label byte or '.'.
std::optional<std::string> normalise_domain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > kMaxName) return std::nullopt;
  std::size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else if (is_label_byte(c)) {
      if (++label > kMaxLabel) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (label == 0) return std::nullopt;
  return text::lower(d);
}

// One label, lowercased, for "*word*" and "name.*": non-empty, label bytes only.
std::optional<std::string> normalise_label(std::string_view w) {
  if (w.empty() || w.size() > kMaxLabel) return std::nullopt;
  for (char c : w)
    if (!is_label_byte(c)) return std::nullopt;
  return text::lower(w);
}

// True when `s` is 1-3 ASCII letters: one label of a "name.*" suffix.
bool short_alpha_label(std::string_view s) {
  if (s.empty() || s.size() > 3) return false;
  return std::all_of(s.begin(), s.end(), is_alpha);
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  out.append(s);
  out += '\'';
  return out;
}

// Calls f(suffix) for "a.b.c", "b.c", "c" in that order; stops when f returns
// true and returns true then. No allocation.
template <class F>
bool any_parent(std::string_view domain, F&& f) {
  while (!domain.empty()) {
    if (f(domain)) return true;
    const auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string> recipient_domain(std::string_view recipient) {
  if (recipient.size() >= 2 && recipient.front() == '<' && recipient.back() == '>') {
    recipient = recipient.substr(1, recipient.size() - 2);
  }
  // The last '@' outside a quoted string. Inside quotes a backslash escapes
  // the next byte; an unterminated quote hides every '@' after it.
  std::size_t at = std::string_view::npos;
  bool in_quote = false;
  for (std::size_t i = 0; i < recipient.size(); ++i) {
    const char c = recipient[i];
    if (in_quote) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quote = false;
      }
    } else if (c == '"') {
      in_quote = true;
    } else if (c == '@') {
      at = i;
    }
  }
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view domain = recipient.substr(at + 1);
  if (!domain.empty() && domain.front() == '[') return std::nullopt;  // address literal
  return normalise_domain(domain);
}

std::string DomainList::add_entry(std::string_view line) {
  const char first = line.front();
  if (first == '!' || first == '=') {
    const std::string_view rest = line.substr(1);
    auto d = normalise_domain(rest);
    if (!d)
      return std::string(first == '!' ? "invalid exception domain " : "invalid exact domain ") +
             quoted(rest);
    (first == '!' ? except_ : exact_).insert(std::move(*d));
    return "";
  }
  if (first == '*') return add_word(line);
  if (line.ends_with(".*")) {
    const std::string_view name = line.substr(0, line.size() - 2);
    if (name.empty() || name.find('.') != std::string_view::npos)
      return "invalid pattern " + quoted(line) + ": expected one label before .*";
    auto n = normalise_label(name);
    if (!n) return "invalid pattern " + quoted(line) + ": the label has a character not allowed";
    country_.insert(std::move(*n));
    return "";
  }
  if (!is_label_byte(first) || first == '-') return "unknown leading character in " + quoted(line);
  auto d = normalise_domain(line);
  if (!d) return "invalid domain " + quoted(line);
  suffix_.insert(std::move(*d));
  return "";
}

std::string DomainList::add_word(std::string_view line) {
  if (line.size() < 2 || line.back() != '*')
    return "invalid pattern " + quoted(line) + ": expected *word*";
  const std::string_view word = line.substr(1, line.size() - 2);
  if (word.empty() || word.find('.') != std::string_view::npos)
    return "invalid pattern " + quoted(line) + ": the word must be non-empty, without dots";
  auto w = normalise_label(word);
  if (!w) return "invalid pattern " + quoted(line) + ": the word has a character not allowed";
  if (std::find(label_contains_.begin(), label_contains_.end(), *w) == label_contains_.end())
    label_contains_.push_back(std::move(*w));
  return "";
}

DomainList DomainList::parse(std::string_view text, const std::string& file,
                             std::vector<ListError>& errors) {
  DomainList list;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
  unsigned line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = text::trim(line);
    if (line.empty()) continue;

    if (std::string e = list.add_entry(line); !e.empty())
      errors.push_back(ListError{file, line_no, std::move(e)});
  }
  return list;
}

DomainList DomainList::load(const std::string& path, std::vector<ListError>& errors) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    errors.push_back(
        ListError{path, 0, "cannot open list file: " + std::string(std::strerror(err))});
    return DomainList{};
  }
  std::string text;
  char buf[16384];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    errors.push_back(
        ListError{path, 0, "cannot read list file: " + std::string(std::strerror(err))});
    return DomainList{};
  }
  return parse(text, path, errors);
}

bool DomainList::excepted(std::string_view domain) const {
  if (except_.empty()) return false;
  return any_parent(domain, [&](std::string_view s) { return except_.contains(s); });
}

// "name.*": some label is a "name" and is followed by exactly one or two
// labels of 1-3 ASCII letters each, the last labels of the domain. Labels
// before "name" are free (mail.yahoo.com).
bool DomainList::country_match(std::string_view domain) const {
  if (country_.empty()) return false;
  // Label boundaries from the end: tld, then second-level.
  const auto last_dot = domain.rfind('.');
  if (last_dot == std::string_view::npos) return false;
  const std::string_view tld = domain.substr(last_dot + 1);
  if (!short_alpha_label(tld)) return false;
  std::string_view head = domain.substr(0, last_dot);  // everything before the tld

  auto last_label = [](std::string_view s) {
    const auto dot = s.rfind('.');
    return dot == std::string_view::npos ? s : s.substr(dot + 1);
  };
  // name.tld
  const std::string_view l2 = last_label(head);
  if (country_.contains(l2)) return true;
  // name.sld.tld
  if (!short_alpha_label(l2) || l2.size() == head.size()) return false;
  head = head.substr(0, head.size() - l2.size() - 1);
  return country_.contains(last_label(head));
}

bool DomainList::matches(std::string_view domain) const {
  if (domain.empty()) return false;
  if (excepted(domain)) return false;
  if (exact_.contains(domain)) return true;
  if (!suffix_.empty() &&
      any_parent(domain, [&](std::string_view s) { return suffix_.contains(s); })) {
    return true;
  }
  if (country_match(domain)) return true;
  // A word has no dot, so any occurrence in the name lies inside one label.
  for (const auto& word : label_contains_) {
    if (domain.find(word) != std::string_view::npos) return true;
  }
  return false;
}

std::size_t DomainList::size() const {
  return suffix_.size() + exact_.size() + country_.size() + label_contains_.size() + except_.size();
}

DomainList::Entries DomainList::entries() const {
  auto sorted = [](const auto& set) {
    std::vector<std::string> v(set.begin(), set.end());
    std::sort(v.begin(), v.end());
    return v;
  };
  Entries e;
  e.domains = sorted(suffix_);
  e.exact = sorted(exact_);
  e.country = sorted(country_);
  e.contains = sorted(label_contains_);
  e.exceptions = sorted(except_);
  return e;
}

bool Classification::on(std::string_view list) const {
  return std::binary_search(lists.begin(), lists.end(), list, std::less<>{});
}

Classifier::Classifier(std::map<std::string, DomainList> lists,
                       const std::map<std::string, std::vector<std::string>>& operator_domains)
    : lists_(std::move(lists)) {
  for (const auto& [op, domains] : operator_domains) {
    for (const auto& d : domains) {
      auto n = normalise_domain(d);
      // First operator (by name) wins a domain listed twice; config
      // validation is expected to reject that.
      if (n) operator_by_domain_.emplace(std::move(*n), op);
    }
  }
}

Classification Classifier::classify(std::string_view domain) const {
  Classification c;
  // Callers pass recipient_domain() output; normalise cheaply if they did not.
  if (!domain.empty() &&
      (domain.back() == '.' ||
       std::any_of(domain.begin(), domain.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }))) {
    c.domain = text::lower(domain);
    if (c.domain.back() == '.') c.domain.pop_back();
  } else {
    c.domain = std::string(domain);
  }
  const std::string_view d = c.domain;
  for (const auto& [name, list] : lists_) {  // std::map: names come out sorted
    if (list.matches(d)) c.lists.push_back(name);
  }
  any_parent(d, [&](std::string_view s) {  // most specific first
    const auto it = operator_by_domain_.find(s);
    if (it == operator_by_domain_.end()) return false;
    c.op = it->second;
    return true;
  });
  return c;
}

}  // namespace sg
