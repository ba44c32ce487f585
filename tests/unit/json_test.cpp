// common/json.hpp: the one quoting of strings on the daemons' /status pages.
#include "common/json.hpp"

#include <gtest/gtest.h>

namespace sg {
namespace {

TEST(JsonQuote, PlainTextIsQuoted) {
  EXPECT_EQ(json::quote("/etc/streamguard/streamguard.toml"),
            "\"/etc/streamguard/streamguard.toml\"");
  EXPECT_EQ(json::quote(""), "\"\"");
}

TEST(JsonQuote, QuotesBackslashesAndControlCharactersAreEscaped) {
  EXPECT_EQ(json::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json::quote(std::string_view("tab\there\nnul\0end", 16)),
            "\"tab\\u0009here\\u000anul\\u0000end\"");
}

TEST(JsonQuote, Utf8IsKeptAsItIs) {
  EXPECT_EQ(json::quote("Zürich"), "\"Zürich\"");
}

}  // namespace
}  // namespace sg
