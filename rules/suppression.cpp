#include "rules/suppression.hpp"

#include <algorithm>

#include "common/civil_time.hpp"
#include "common/text.hpp"
#include "rules/classifier.hpp"

namespace sg::suppression {

namespace {

// Words receivers use when they refuse the sender, not the recipient.
constexpr std::string_view kReputationMarks[] = {
    "tss0",     "s3150",     "4.7.500",    "unsolicited", "reputation",
    "spamhaus", "blocklist", "block list", "blacklist",   "listed at"};

}  // namespace

std::string entry_text(std::string_view s) {
  auto marker_at = [&s](std::size_t i) {  // "550-5.1.1 " or "550 5.1.1 " at i
    if (i + 4 > s.size()) return std::size_t{0};
    for (std::size_t k = 0; k < 3; ++k)
      if (s[i + k] < '0' || s[i + k] > '9') return std::size_t{0};
    if (s[i + 3] != '-' && s[i + 3] != ' ') return std::size_t{0};
    std::size_t j = i + 4;
    while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
    if (j == i + 4 || j >= s.size() || s[j] != ' ') return std::size_t{0};
    return j + 1 - i;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < kMaxEntryText;) {
    if (i > 0 && s[i - 1] == ' ') {
      if (const std::size_t n = marker_at(i); n > 0) {
        i += n;
        continue;
      }
    }
    const char c = s[i++];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (out.size() >= kMaxEntryText) out += "...";
  return out;
}

std::string field_for_target(std::string_view target) {
  const std::string t = text::lower(text::trim(target));
  if (t.find('@') != std::string::npos)
    return recipient_domain(t) ? entry_field(SuppressScope::address, t) : "";
  if (t.empty() || t.size() > 253 ||
      t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos ||
      t.find('.') == std::string::npos || t.front() == '.' || t.back() == '.')
    return "";
  return entry_field(SuppressScope::domain, t);
}

std::string entry_field(SuppressScope scope, std::string_view key) {
  return (scope == SuppressScope::address ? "a:" : "d:") + std::string(key);
}

std::vector<std::string> fields_for(std::string_view recipient) {
  const auto domain = recipient_domain(recipient);
  if (!domain) return {};
  return fields_for(recipient, *domain);
}

std::vector<std::string> fields_for(std::string_view recipient, std::string_view domain) {
  return {entry_field(SuppressScope::address, text::lower(recipient)),
          entry_field(SuppressScope::domain, domain)};
}

std::string record_of(const Entry& e) {
  auto word = [](const std::string& w) { return w.empty() ? std::string("-") : w; };
  std::string text = e.text;
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return std::to_string(e.until_ms) + " " + std::to_string(e.learned_ms) + " " + word(e.rule) +
         " " + word(e.stream) + " " + word(e.dsn) + " " + text;
}

std::optional<Entry> parse_entry(std::string_view field, std::string_view record) {
  Entry e;
  if (field.starts_with("a:"))
    e.scope = SuppressScope::address;
  else if (field.starts_with("d:"))
    e.scope = SuppressScope::domain;
  else
    return std::nullopt;
  e.key = std::string(field.substr(2));
  if (e.key.empty()) return std::nullopt;
  std::string_view rest = record;
  auto next = [&rest]() -> std::optional<std::string> {
    const auto sp = rest.find(' ');
    if (sp == 0 || rest.empty()) return std::nullopt;
    std::string w(rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    return w;
  };
  auto number = [](const std::optional<std::string>& w) -> std::optional<int64_t> {
    if (!w || w->empty() || w->size() > 18 ||
        w->find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoll(*w);
  };
  const auto until = number(next()), learned = number(next());
  auto rule = next(), stream = next(), dsn = next();
  if (!until || !learned || !rule || !stream || !dsn) return std::nullopt;
  e.until_ms = *until;
  e.learned_ms = *learned;
  e.rule = *rule;
  e.stream = *stream == "-" ? "" : *stream;
  e.dsn = *dsn == "-" ? "" : *dsn;
  e.text = std::string(rest);
  return e;
}

namespace {

// Whatever Redis held: it becomes a policy protocol line and an SMTP reply.
std::string printable(std::string s) {
  return text::reply_safe(std::move(s));
}

}  // namespace

std::string refusal_text(std::string_view field, std::string_view record) {
  const auto e = parse_entry(field, record);
  if (!e)
    return printable("5.1.1 streamguard: the recipient is suppressed (" + std::string(field) +
                     "; its record in Redis is unreadable: see streamguardctl suppress show)");
  const std::string day = utc_text(e->learned_ms).substr(0, 10);
  // A short entry (added by hand for an hour) ends on the day it began: say when.
  const std::string until = e->until_ms - e->learned_ms < 2 * 86'400'000
                                ? utc_text(e->until_ms)
                                : utc_text(e->until_ms).substr(0, 10);
  std::string why;
  if (e->rule == "manual") {
    why = "added by hand on " + day + (e->text.empty() ? "" : ": " + e->text);
  } else if (e->rule == "import") {
    why = "imported on " + day + (e->text.empty() ? "" : ": " + e->text);
  } else {
    why = std::string(e->scope == SuppressScope::address ? "it hard-bounced" : "its mail failed") +
          " (" + e->text + ") on " + day + (e->stream.empty() ? "" : " via " + e->stream) +
          " (rule " + e->rule + ")";
  }
  const std::string what = e->scope == SuppressScope::address
                               ? "5.1.1 streamguard: <" + e->key + "> is suppressed: "
                               : "5.1.2 streamguard: domain " + e->key + " is suppressed: ";
  return printable(what + why + "; no stream mails it until " + until);
}

bool is_reputation_reply(std::string_view dsn, std::string_view text) {
  // RFC 3463 subject 7: security or policy.
  if (dsn.size() >= 3 && dsn[1] == '.' && dsn[2] == '7') return true;
  for (auto mark : kReputationMarks)
    if (rules::icontains(text, mark)) return true;
  return false;
}

Learner::Learner(std::vector<SuppressRule> rules) : Learner(std::move(rules), Limits{}) {}

Learner::Learner(std::vector<SuppressRule> rules, Limits limits)
    : rules_(std::move(rules)), limits_(limits) {
  for (auto& r : rules_) {
    r.threshold = std::max<uint32_t>(r.threshold, 1);
    r.window_s = std::max<uint32_t>(r.window_s, 1);
    compiled_.emplace_back(r);
  }
}

void Learner::forget_alive(const std::string& address, const std::string& domain) {
  for (std::size_t i = 0; i < rules_.size(); ++i)
    cells_.erase({i, rules_[i].scope == SuppressScope::address ? address : domain});
}

void Learner::prune(int64_t now_ms) {
  for (auto it = learned_.begin(); it != learned_.end();)
    it = it->second <= now_ms ? learned_.erase(it) : std::next(it);
  for (auto it = cells_.begin(); it != cells_.end();) {
    const int64_t window_ms = int64_t{rules_[it->first.first].window_s} * 1000;
    it = now_ms - it->second.first_ms > window_ms ? cells_.erase(it) : std::next(it);
  }
}

std::vector<Entry> Learner::record(const breaker::Event& e) {
  std::vector<Entry> out;
  if (e.recipient.empty() || rules_.empty()) return out;
  const std::string address = text::lower(e.recipient);
  const auto domain = recipient_domain(address);
  if (!domain) return out;
  if (e.status == maillog::Status::sent) {
    forget_alive(address, *domain);
    return out;
  }
  const std::string& text = e.reply.empty() ? e.text : e.reply;
  bool reputation_checked = false, reputation = false;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    if (!compiled_[i].matches(e.op, e.status, e.dsn, e.text)) continue;
    if (!reputation_checked) {
      reputation = is_reputation_reply(e.dsn, e.text);
      reputation_checked = true;
      if (reputation) ++counts_.reputation_ignored;
    }
    if (reputation) return out;
    const std::string& key = r.scope == SuppressScope::address ? address : *domain;
    const std::string field = entry_field(r.scope, key);
    if (auto l = learned_.find(field); l != learned_.end() && l->second > e.time_ms) continue;
    auto it = cells_.find({i, key});
    if (it == cells_.end()) {
      if (cells_.size() >= limits_.max_keys) prune(e.time_ms);
      if (cells_.size() >= limits_.max_keys) {
        ++counts_.dropped;
        continue;
      }
      it = cells_.emplace(CellKey{i, key}, Cell{e.time_ms, e.time_ms, 0}).first;
    }
    Cell& c = it->second;
    if (e.time_ms - c.first_ms > int64_t{r.window_s} * 1000) c = Cell{e.time_ms, e.time_ms, 0};
    c.last_ms = std::max(c.last_ms, e.time_ms);
    ++c.count;
    if (c.count < r.threshold || c.last_ms - c.first_ms < int64_t{r.span_s} * 1000) continue;

    Entry en;
    en.scope = r.scope;
    en.key = key;
    en.rule = r.name;
    en.stream = e.stream;
    en.dsn = e.dsn;
    en.text = entry_text(text);
    en.count = c.count;
    en.learned_ms = e.time_ms;
    en.until_ms = e.time_ms + int64_t{r.ttl_s} * 1000;
    cells_.erase(it);
    if (learned_.size() >= limits_.max_keys) prune(e.time_ms);
    if (learned_.size() < limits_.max_keys) learned_[field] = en.until_ms;
    ++counts_.learned;
    ++by_rule_[r.name];
    out.push_back(std::move(en));
  }
  return out;
}

}  // namespace sg::suppression
