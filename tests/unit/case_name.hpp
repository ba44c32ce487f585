// The name generator of the table-driven (value-parameterized) unit tests:
// each case is named after its `name` field, so a failing case reads as
// what it checks and ctest names stay the same run to run.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace sg {

// Names a table-driven case after its `name` field.
struct CaseName {
  template <class Case>
  std::string operator()(const ::testing::TestParamInfo<Case>& case_info) const {
    return case_info.param.name;
  }
};
inline constexpr CaseName case_name;

}  // namespace sg
