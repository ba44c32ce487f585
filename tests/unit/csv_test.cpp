// CSV reading and writing (formats/csv.hpp) and the suppression import's
// reading of rows (rules/suppression_csv.hpp), with the dates it accepts
// (common/civil_time.hpp).
#include <gtest/gtest.h>

#include <sstream>

#include "common/civil_time.hpp"
#include "formats/csv.hpp"
#include "rules/suppression_csv.hpp"

namespace sg {
namespace {

std::vector<csv::Record> read_all(const std::string& text, std::string* error = nullptr) {
  std::istringstream in(text);
  csv::Reader r(in);
  std::vector<csv::Record> out;
  csv::Record rec;
  while (r.next(rec)) out.push_back(rec);
  if (error) *error = r.error();
  return out;
}

using Cells = std::vector<std::string>;

TEST(CsvTest, QuotedCellsHoldCommasQuotesAndLineBreaks) {
  const auto rows = read_all(
      "\xEF\xBB\xBF"
      "email,name\r\n"
      "a@x.example,\"Smith, \"\"Jo\"\"\"\r\n"
      "\r\n"
      "b@x.example,\"two\nlines\"\n"
      "c@x.example,\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].cells, (Cells{"email", "name"}));
  EXPECT_EQ(rows[1].cells, (Cells{"a@x.example", "Smith, \"Jo\""}));
  EXPECT_EQ(rows[2].cells, (Cells{"b@x.example", "two\nlines"}));
  EXPECT_EQ(rows[2].line, 4u) << "a blank line is skipped, lines still counted";
  EXPECT_EQ(rows[3].cells, (Cells{"c@x.example", ""}));
  EXPECT_EQ(rows[3].line, 6u);
}

TEST(CsvTest, LenientWhereTheMeaningIsPlain) {
  const auto rows = read_all("a\"b,\"c\"d\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].cells, (Cells{"a\"b", "cd"}));
}

TEST(CsvTest, AQuoteThatNeverClosesIsAnErrorNamingItsLine) {
  std::string error;
  const auto rows = read_all("ok@x.example\n\"open@x.example\nmore\n", &error);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(error, "line 2: a quoted cell is still open at the end of the file");
}

TEST(CsvTest, ALineLongerThanARecordMayBeIsAnError) {
  std::string error;
  const auto rows =
      read_all("a@x.example\n" + std::string(csv::kMaxRecord + 1, 'x') + "\n", &error);
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(error, "line 2: a record longer than " + std::to_string(csv::kMaxRecord) + " bytes");
}

TEST(CsvTest, QuoteWritesOnlyWhatMustBeQuotedAndReadsBack) {
  EXPECT_EQ(csv::quote("plain"), "plain");
  EXPECT_EQ(csv::quote(""), "");
  EXPECT_EQ(csv::quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv::quote("say \"no\""), "\"say \"\"no\"\"\"");
  EXPECT_EQ(csv::quote(" padded"), "\" padded\"");
  const Cells cells{"a,b", "say \"no\"", "two\nlines", " padded", "x"};
  std::string line;
  for (const auto& c : cells) line += (line.empty() ? "" : ",") + csv::quote(c);
  const auto rows = read_all(line + "\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].cells, cells);
}

TEST(ParseUtcTextTest, ReadsDatesAndTimesAndRefusesTheRest) {
  EXPECT_EQ(parse_utc_text("1970-01-01"), 0);
  EXPECT_EQ(parse_utc_text("2099-06-17"), 4'085'337'600'000);
  EXPECT_EQ(parse_utc_text("2026-11-22T21:46:16Z"), 1'795'383'976'000);
  EXPECT_EQ(parse_utc_text("2026-11-22 21:46"), 1'795'383'960'000);
  EXPECT_EQ(parse_utc_text(utc_text(1'795'383'976'000)), 1'795'383'976'000);
  EXPECT_EQ(parse_utc_text("2024-02-29"), 1'709'164'800'000);
  for (const char* bad : {"", "2025-02-29", "2026-13-01", "2026-1-01", "17/06/2027",
                          "2026-11-22T25:00", "2026-11-22Tnoon", "2026-11-22 21:46+01:00"})
    EXPECT_FALSE(parse_utc_text(bad)) << bad;
}

constexpr int64_t kNow = 1'795'428'000'000;  // 2026-11-23T10:00:00Z

suppression::ImportMapper mapper() {
  return suppression::ImportMapper({kNow, 365, 30, "listed in a.csv"});
}

csv::Record row(Cells cells, std::size_t line = 1) {
  return csv::Record{std::move(cells), line};
}

TEST(SuppressionCsvTest, APlainListTakesAddressOrDomainReasonAndUntil) {
  auto m = mapper();
  auto a = m.map(row({" Dead@X.Example "}));
  ASSERT_EQ(a.kind, suppression::ImportMapper::Kind::entry) << a.why;
  EXPECT_EQ(a.entry.scope, SuppressScope::address);
  EXPECT_EQ(a.entry.key, "dead@x.example");
  EXPECT_EQ(a.entry.text, "listed in a.csv");
  EXPECT_EQ(a.entry.rule, "import");
  EXPECT_EQ(a.entry.until_ms, kNow + 365LL * 86'400'000);
  auto d = m.map(row({"old-practice.example", "closed", "2027-06-17"}));
  ASSERT_EQ(d.kind, suppression::ImportMapper::Kind::entry) << d.why;
  EXPECT_EQ(d.entry.scope, SuppressScope::domain);
  EXPECT_EQ(d.entry.text, "closed");
  EXPECT_EQ(d.entry.until_ms, *parse_utc_text("2027-06-17"));
  EXPECT_EQ(m.map(row({"x@y.example", "", "2020-01-01"})).kind,
            suppression::ImportMapper::Kind::skipped);
  auto bad_date = m.map(row({"x@y.example", "", "next year"}));
  EXPECT_EQ(bad_date.kind, suppression::ImportMapper::Kind::rejected);
  EXPECT_EQ(bad_date.why, "'next year' is not a date (2027-06-17, UTC)");
  EXPECT_EQ(m.map(row({"localhost"})).kind, suppression::ImportMapper::Kind::rejected);
}

TEST(SuppressionCsvTest, AFirstRowHoldingAnAddressIsDataEvenWithAColumnName) {
  auto m = mapper();
  auto first = m.map(row({"x@y.example", "address"}));
  EXPECT_EQ(first.kind, suppression::ImportMapper::Kind::entry) << first.why;
  EXPECT_EQ(first.entry.text, "address");
  EXPECT_EQ(m.layout(), "a plain list (address or domain, reason, until)");
}

TEST(SuppressionCsvTest, ListmonkExportsTakeOnlyBlocklistedAndHardBounces) {
  auto subs = mapper();
  EXPECT_EQ(subs.map(row({"uuid", "Email", "status"})).kind,
            suppression::ImportMapper::Kind::header);
  EXPECT_EQ(subs.map(row({"1", "a@x.example", "blocklisted"})).entry.text,
            "blocklisted in Listmonk");
  auto live = subs.map(row({"2", "b@x.example", "enabled"}));
  EXPECT_EQ(live.kind, suppression::ImportMapper::Kind::skipped);
  EXPECT_EQ(live.why, "status 'enabled', not blocklisted");
  EXPECT_EQ(subs.layout(), "a header: email (column 2), status (column 3)");

  auto bounces = mapper();
  bounces.map(row({"email", "type", "campaign"}));
  EXPECT_EQ(bounces.map(row({"a@x.example", "hard", "c"})).entry.text, "hard-bounced");
  EXPECT_EQ(bounces.map(row({"a@x.example", "complaint", "c"})).entry.text, "complained");
  EXPECT_EQ(bounces.map(row({"a@x.example", "soft", "c"})).why,
            "a soft bounce, not a dead address");
}

TEST(SuppressionCsvTest, AnExportRowReadsBackAsTheSameEntry) {
  suppression::Entry e{SuppressScope::address,
                       "a@x.example",
                       "user-unknown",
                       "healthcare",
                       "5.1.1",
                       "550 5.1.1 \"no\" such user, sorry",
                       1,
                       kNow,
                       kNow + 86'400'000};
  const auto rows =
      read_all(std::string(suppression::kExportHeader) + "\n" + suppression::export_row(e) + "\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].cells,
            (Cells{"address", "a@x.example", "2026-11-24T10:00:00Z", "2026-11-23T10:00:00Z",
                   "user-unknown", "healthcare", "5.1.1", "550 5.1.1 \"no\" such user, sorry"}));
  auto m = mapper();
  EXPECT_EQ(m.map(rows[0]).kind, suppression::ImportMapper::Kind::header);
  auto back = m.map(rows[1]);
  ASSERT_EQ(back.kind, suppression::ImportMapper::Kind::entry) << back.why;
  EXPECT_EQ(back.entry.key, e.key);
  EXPECT_EQ(back.entry.until_ms, e.until_ms);
  EXPECT_EQ(back.entry.text, e.text);
}

}  // namespace
}  // namespace sg
