// Recipient classification: recipient address -> normalised domain -> the
// named lists it is on (yahoo_family, dead_isp, consumer, direct_hisp, or any
// list the config names) and the receiving operator from the static domain
// map. A domain on no list is institutional. Pure: lists are loaded once.
//
// List file syntax (one entry a line, '#' starts a comment, blank lines ignored,
// case-insensitive):
//   example.com   the domain and every subdomain of it (mail.example.com)
//   =example.com  that exact domain only
//   yahoo.*       the label "yahoo" followed by a country or generic suffix of
//                 one or two labels of at most 3 letters each
//                 (yahoo.com, yahoo.co.uk, yahoo.com.br; not yahoo.example.org)
//   *direct*      any domain with a label containing "direct"
//   !directv.com  an exception: the domain and its subdomains are never on
//                 this list, whatever other lines say
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sg {

namespace detail {
// Transparent string hash: lets the sets below be searched with a
// std::string_view (no std::string built per lookup on the hot path).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
}  // namespace detail

// "User@Mail.Example.COM." -> "mail.example.com". Handles quoted local parts
// and a trailing dot; an address literal ("user@[192.0.2.1]") or an address
// without a domain returns nullopt.
std::optional<std::string> recipient_domain(std::string_view recipient);

struct ListError {
  std::string file;
  unsigned line = 0;
  std::string message;
  // "FILE:LINE: message" ("FILE: message" for the whole file).
  std::string to_string() const {
    return file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + message;
  }
};

class DomainList {
 public:
  // Parses list text; syntax errors are appended to `errors` naming file:line.
  static DomainList parse(std::string_view text, const std::string& file,
                          std::vector<ListError>& errors);
  static DomainList load(const std::string& path, std::vector<ListError>& errors);

  bool matches(std::string_view domain) const;  // domain already normalised
  std::size_t size() const;                     // entries, all kinds together

  // The entries by kind, normalised and each kind sorted: for tools that turn
  // a list into another format (streamguardctl's Postfix backstop map).
  struct Entries {
    std::vector<std::string> domains;     // "example.com": the domain and its subdomains
    std::vector<std::string> exact;       // "=example.com"
    std::vector<std::string> country;     // "yahoo.*": the label ("yahoo")
    std::vector<std::string> contains;    // "*word*": the word
    std::vector<std::string> exceptions;  // "!example.com": the domain and its subdomains
  };
  Entries entries() const;

 private:
  bool excepted(std::string_view domain) const;
  bool country_match(std::string_view domain) const;
  // One entry of a list file (trimmed, not empty); what is wrong with it, ""
  // when it was added. add_word: a "*word*" entry.
  std::string add_entry(std::string_view line);
  std::string add_word(std::string_view line);

  detail::StringSet suffix_;  // domain and subdomains
  detail::StringSet exact_;
  detail::StringSet country_;                // "name.*" labels
  std::vector<std::string> label_contains_;  // "*word*", no duplicates
  detail::StringSet except_;
};

struct Classification {
  std::string domain;
  std::vector<std::string> lists;  // names of the lists the domain is on, sorted
  std::string op;                  // operator from the static map; "" when unknown
  bool on(std::string_view list) const;
  bool institutional() const { return lists.empty(); }
};

class Classifier {
 public:
  // lists: name -> list. operators: operator name -> domains it hosts
  // (a domain maps to its operator, and so do its subdomains).
  Classifier(std::map<std::string, DomainList> lists,
             const std::map<std::string, std::vector<std::string>>& operator_domains);

  Classification classify(std::string_view domain) const;
  const std::map<std::string, DomainList>& lists() const { return lists_; }

 private:
  std::map<std::string, DomainList> lists_;
  detail::StringMap<std::string> operator_by_domain_;
};

}  // namespace sg
