// tzif::Zone: the host's zone file, read without touching the process's TZ.
#include "formats/tzif.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sg::tzif {
namespace {

std::string file(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(Tzif, UtcHasNoOffset) {
  std::string error;
  auto z = Zone::parse(file("Etc/UTC"), error);
  ASSERT_TRUE(z) << error;
  EXPECT_EQ(z->offset_at(1'795'381'200), 0);
  EXPECT_EQ(z->utc_from_wall(1'795'381'200), 1'795'381'200);
  EXPECT_FALSE(z->rule_beyond_table());
}

TEST(Tzif, ChicagoKeepsStandardAndDaylightTimeApart) {
  std::string error;
  auto z = Zone::parse(file("America/Chicago"), error);
  ASSERT_TRUE(z) << error;
  EXPECT_EQ(z->offset_at(1'795'381'200), -6 * 3600);  // 2026-11-22T21:00Z, CST
  EXPECT_EQ(z->offset_at(1'782'950'400), -5 * 3600);  // 2026-07-02T00:00Z, CDT
  // 2026-03-08 is the spring change (02:00 CST -> 03:00 CDT, 08:00Z).
  EXPECT_EQ(z->offset_at(1'772'956'799), -6 * 3600);
  EXPECT_EQ(z->offset_at(1'772'956'800), -5 * 3600);
  // Wall 15:00 on Nov 22 is 21:00Z; wall 16:00 on Jul 1 is 21:00Z.
  EXPECT_EQ(z->utc_from_wall(1'795'381'200 - 6 * 3600), 1'795'381'200);
  EXPECT_EQ(z->utc_from_wall(1'782'950'400 - 3 * 3600 - 5 * 3600), 1'782'950'400 - 3 * 3600);
  EXPECT_EQ(z->offset_at(-3'000'000'000), z->offset_at(-3'000'000'001));  // before the table
}

TEST(Tzif, MalformedFilesSayWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(Zone::parse("", error));
  EXPECT_NE(error.find("not a TZif file"), std::string::npos) << error;
  const auto chicago = file("America/Chicago");
  EXPECT_FALSE(Zone::parse(chicago.substr(0, 30), error));
  EXPECT_NE(error.find("cut short"), std::string::npos) << error;
  EXPECT_FALSE(Zone::parse(chicago.substr(0, chicago.size() / 2), error));
  EXPECT_NE(error.find("cut short"), std::string::npos) << error;
  // A transition count of 2^32-1 is refused before anything is allocated.
  std::string huge = chicago;
  for (int i = 32; i < 36; ++i) huge[i] = '\xff';
  EXPECT_FALSE(Zone::parse(huge, error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace sg::tzif
