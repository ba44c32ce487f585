// Helpers shared by the config parser's unit tests (config_*_test.cpp): the
// parse of a test's text, the one-error check, the ramp steps as pairs, and
// the table of configs that each yield one error where it is
// (SingleError, its cases in config_value_errors_test.cpp and
// config_reference_errors_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "tests/unit/case_name.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {

using testing::all_errors;
using testing::kConfigFile;

inline ConfigResult parse(std::string_view text, const std::string& path = kConfigFile) {
  return testing::parse_text(text, path);
}

// The text must yield exactly one error, at line:column, saying `message`.
inline void expect_one_error(std::string_view text, uint32_t line, uint32_t column,
                             const std::string& message) {
  auto r = parse(text);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, kConfigFile);
  EXPECT_EQ(e.message, message);
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_EQ(e.column, column) << e.to_string();
}

inline std::vector<std::pair<uint32_t, uint32_t>> ramp_pairs(const std::vector<RampStep>& steps) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& s : steps) out.emplace_back(s.day, static_cast<uint32_t>(s.cap));
  return out;
}

using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;
using Strings = std::vector<std::string>;
using Caps = std::map<std::string, uint64_t>;

// A config that must yield exactly one error: its text, and where and what
// that error is.
struct ErrorCase {
  const char* name;
  const char* text;
  uint32_t line;
  uint32_t column;
  const char* message;
};

inline void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class SingleError : public ::testing::TestWithParam<ErrorCase> {};

}  // namespace sg
