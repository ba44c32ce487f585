// One [[breaker]] or [[suppress]] rule's match (ResultMatch in the config),
// ready to test delivery results: the text lowered once, the statuses as a
// table. Pure; shared by the breakers (rules/breaker.cpp) and the
// suppression learner (rules/suppression.cpp).
//
//   - dsn: a prefix by component ("5.7" matches "5.7.1" and "5.7.26", not
//     "5.70.1"); any of the rule's entries;
//   - text: a case-insensitive substring of the result's text; any entry;
//   - status and operator as given; an empty part matches everything.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"

namespace sg::rules {

bool dsn_matches(std::string_view prefix, std::string_view dsn);
// `needle` must already be lower case.
bool icontains(std::string_view hay, std::string_view needle);

class CompiledMatch {
 public:
  explicit CompiledMatch(const ResultMatch& m);

  bool matches(std::string_view op, maillog::Status status, std::string_view dsn,
               std::string_view text) const;
  // " matching dsn 4.7 and text "tss04" or "tss09"" ("" when it matches anything
  // but a status), for the reasons the logs give.
  std::string describe() const;

 private:
  ResultMatch m_;
  std::vector<std::string> text_lower_;
  std::array<bool, maillog::kStatusCount> status_{};
};

}  // namespace sg::rules
