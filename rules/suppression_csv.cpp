#include "rules/suppression_csv.hpp"

#include <algorithm>
#include <array>

#include "common/civil_time.hpp"
#include "common/text.hpp"

namespace sg::suppression {

namespace {

constexpr std::array kTargetNames{"email",   "e-mail",    "email_address",    "email address",
                                  "address", "recipient", "subscriber_email", "domain",
                                  "target"};
constexpr std::array kReasonNames{"reason", "note", "comment"};
constexpr std::array kUntilNames{"until", "expires", "expires_at", "expiry"};

template <std::size_t N>
bool named(const std::array<const char*, N>& names, const std::string& cell) {
  return std::any_of(names.begin(), names.end(), [&cell](const char* n) { return cell == n; });
}

}  // namespace

void ImportMapper::read_header(const csv::Record& r) {
  target_ = reason_ = until_ = Column{};
  for (std::size_t i = 0; i < r.cells.size(); ++i) {
    const std::string name = text::lower(text::trim(r.cells[i]));
    Column c{static_cast<int>(i), name};
    // The first column of a kind wins ("email" before a later "domain").
    if (named(kTargetNames, name) && target_.index < 0) target_ = c;
    if (named(kReasonNames, name) && reason_.index < 0) reason_ = c;
    if (named(kUntilNames, name) && until_.index < 0) until_ = c;
    if (name == "status" && status_.index < 0) status_ = c;
    if (name == "type" && type_.index < 0) type_ = c;
  }
}

std::string ImportMapper::cell(const csv::Record& r, const Column& c) const {
  if (c.index < 0 || static_cast<std::size_t>(c.index) >= r.cells.size()) return "";
  return std::string(text::trim(r.cells[static_cast<std::size_t>(c.index)]));
}

ImportMapper::Outcome ImportMapper::map(const csv::Record& r) {
  Outcome out;
  if (first_) {
    first_ = false;
    // A header names the address column and holds no address or domain
    // (a plain list's first row "x@y.example,address" is data).
    header_ = std::any_of(r.cells.begin(), r.cells.end(),
                          [](const std::string& c) {
                            return named(kTargetNames, text::lower(text::trim(c)));
                          }) &&
              std::none_of(r.cells.begin(), r.cells.end(),
                           [](const std::string& c) { return !field_for_target(c).empty(); });
    if (header_) {
      read_header(r);
      out.kind = Kind::header;
      return out;
    }
  }
  const std::string target = cell(r, target_);
  const std::string field = field_for_target(target);
  if (field.empty()) {
    out.why = target.empty() ? "no address or domain"
                             : "'" + entry_text(target) + "' is neither an address nor a domain";
    return out;
  }
  std::string reason = cell(r, reason_);
  if (status_.index >= 0) {
    const std::string status = text::lower(cell(r, status_));
    // Listmonk's word (and its older spelling).
    if (status != "blocklisted" && status != "blacklisted") {
      out.kind = Kind::skipped;
      out.why = "status '" + entry_text(status) + "', not blocklisted";
      return out;
    }
    if (reason.empty()) reason = "blocklisted in Listmonk";
  }
  if (type_.index >= 0) {
    const std::string type = text::lower(cell(r, type_));
    if (type != "hard" && type != "complaint") {
      out.kind = Kind::skipped;
      out.why = "a " +
                (type.empty() ? std::string("bounce of no type") : entry_text(type) + " bounce") +
                ", not a dead address";
      return out;
    }
    if (reason.empty()) reason = type == "hard" ? "hard-bounced" : "complained";
  }
  Entry& e = out.entry;
  e.scope = field[0] == 'a' ? SuppressScope::address : SuppressScope::domain;
  e.key = field.substr(2);
  e.rule = "import";
  e.text = entry_text(reason.empty() ? d_.reason : reason);
  e.learned_ms = d_.now_ms;
  const std::string until = cell(r, until_);
  if (until.empty()) {
    const uint32_t days = e.scope == SuppressScope::address ? d_.address_days : d_.domain_days;
    e.until_ms = d_.now_ms + int64_t{days} * 86'400'000;
  } else if (auto ms = parse_utc_text(until)) {
    e.until_ms = *ms;
  } else {
    out.why = "'" + entry_text(until) + "' is not a date (2027-06-17, UTC)";
    return out;
  }
  if (e.until_ms <= d_.now_ms) {
    out.kind = Kind::skipped;
    out.why = "already ended (its until is in the past)";
    return out;
  }
  out.kind = Kind::entry;
  return out;
}

std::string ImportMapper::layout() const {
  if (!header_) return "a plain list (address or domain, reason, until)";
  std::string out;
  for (const Column* c : {&target_, &reason_, &until_, &status_, &type_})
    if (c->index >= 0)
      out += (out.empty() ? "" : ", ") + c->name + " (column " + std::to_string(c->index + 1) + ")";
  return "a header: " + out;
}

std::string export_row(const Entry& e) {
  std::string out = to_string(e.scope);
  for (const std::string& cell :
       {e.key, utc_text(e.until_ms), utc_text(e.learned_ms), e.rule, e.stream, e.dsn, e.text}) {
    out += ',';
    out += csv::quote(cell);
  }
  return out;
}

}  // namespace sg::suppression
