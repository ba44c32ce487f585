// A helper shared by the unit tests that need a small domain list written
// inline (domain_list_test.cpp, classifier_test.cpp,
// postfix_conf_backstop_test.cpp): the list parsed from text, with any
// error a test failure that names the line, the message and the text.
#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "rules/classifier.hpp"

namespace sg {

// Named apart from the postfix_conf tests' parse_ok: the unity build puts
// test files side by side in one translation unit.
inline DomainList domain_list_of(std::string_view text) {
  std::vector<ListError> errors;
  DomainList list = DomainList::parse(text, "test.txt", errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: line "
                              << (errors.empty() ? 0 : errors[0].line) << ": "
                              << (errors.empty() ? "" : errors[0].message) << "\nin:\n"
                              << text;
  return list;
}

}  // namespace sg
