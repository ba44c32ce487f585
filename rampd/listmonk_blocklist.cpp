#include "rampd/listmonk_blocklist.hpp"

#include <spdlog/spdlog.h>

#include "common/civil_time.hpp"
#include "rampd/listmonk_sync.hpp"
#include "rampd/offload.hpp"
#include "rampd/pg_conn.hpp"

namespace sg::listmonk {

namespace {

// The subscribers of one batch, then their lists, as Listmonk's own
// blocklist action writes them; the count is of subscribers newly written.
constexpr const char* kByAddress =
    "WITH b AS (UPDATE subscribers SET status = 'blocklisted', updated_at = NOW() "
    "WHERE LOWER(email) = ANY($1::text[]) AND status <> 'blocklisted' RETURNING id), "
    "l AS (UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = NOW() "
    "WHERE subscriber_id IN (SELECT id FROM b)) SELECT COUNT(*) FROM b";
constexpr const char* kByDomain =
    "WITH b AS (UPDATE subscribers SET status = 'blocklisted', updated_at = NOW() "
    "WHERE LOWER(SPLIT_PART(email, '@', 2)) = ANY($1::text[]) AND status <> 'blocklisted' "
    "RETURNING id), "
    "l AS (UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = NOW() "
    "WHERE subscriber_id IN (SELECT id FROM b)) SELECT COUNT(*) FROM b";

}  // namespace

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

BlocklistResult blocklist(const ListmonkConfig& cfg, const std::vector<std::string>& addresses,
                          const std::vector<std::string>& domains) {
  BlocklistResult r;
  const std::string where = redact_dsn(cfg.dsn);
  const auto values = pg::conninfo_values(cfg.dsn, nullptr);
  const auto pw = values.find("password");
  pg::Conn conn(cfg.timeout_ms, pw == values.end() ? std::string() : pw->second);
  if (!conn.connect(cfg.dsn)) {
    r.error = where + ": cannot connect to Listmonk's database: " + conn.error();
    return r;
  }
  // The server gives up a statement after the same time (one waiting on a
  // row lock, a domain's scan of a large table), so none outlives the call.
  if (!conn.exec("SELECT set_config('statement_timeout', $1, false)",
                 {std::to_string(cfg.timeout_ms)}, "setting statement_timeout")) {
    r.error = where + ": " + conn.error();
    return r;
  }
  for (const auto& [sql, keys] :
       {std::pair{kByAddress, &addresses}, std::pair{kByDomain, &domains}}) {
    for (std::size_t at = 0; at < keys->size(); at += kBlocklistBatch) {
      const std::vector<std::string> batch(
          keys->begin() + static_cast<std::ptrdiff_t>(at),
          keys->begin() +
              static_cast<std::ptrdiff_t>(std::min(keys->size(), at + kBlocklistBatch)));
      conn.restart_deadline();
      // One statement: its own transaction.
      auto rows = conn.exec(sql, {text_array(batch)}, "blocklisting subscribers");
      if (!rows) {
        r.error = where + ": " + conn.error() +
                  (conn.sqlstate() == "42P01"   ? " (is this Listmonk's database?)"
                   : conn.sqlstate() == "42501" ? " (grant the role the columns in "
                                                  "docs/install.md, step 2, or set blocklist = "
                                                  "false)"
                                                : "");
        return r;
      }
      r.changed += std::stoll(PQgetvalue(rows.get(), 0, 0));
      r.sent += batch.size();
    }
  }
  r.ok = true;
  return r;
}

namespace {

// Listmonk's own database is touched only for a stream that enforces: in
// shadow mode streamguard changes nothing of Listmonk's. Domains only when
// asked: a domain entry ends (a dead tenant, 30 days), a blocklisted
// subscriber stays so.
bool wants(const StreamConfig& s, SuppressScope scope) {
  return s.listmonk && s.listmonk->blocklist && s.mode == StreamMode::enforce &&
         (scope == SuppressScope::address || s.listmonk->blocklist_domains);
}

}  // namespace

std::size_t drop_sent(std::deque<suppression::Entry>& pending, std::size_t taken,
                      std::size_t sent) {
  // The first `taken` were sent as addresses (in order), then domains.
  std::size_t addresses = 0;
  for (std::size_t i = 0; i < taken; ++i)
    addresses += pending[i].scope == SuppressScope::address ? 1 : 0;
  const std::size_t sent_addresses = std::min(sent, addresses);
  const std::size_t sent_domains = sent - sent_addresses;
  std::size_t ai = 0, di = 0;
  std::deque<suppression::Entry> rest;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const bool was_sent =
        i < taken &&
        (pending[i].scope == SuppressScope::address ? ai++ < sent_addresses : di++ < sent_domains);
    if (!was_sent) rest.push_back(std::move(pending[i]));
  }
  const std::size_t dropped = pending.size() - rest.size();
  pending = std::move(rest);
  return dropped;
}

void Blocklister::add(const std::vector<suppression::Entry>& learned, const Config& cfg) {
  if (learned.empty()) return;
  for (const auto& s : cfg.streams) {
    for (const auto& e : learned) {
      if (!wants(s, e.scope)) continue;
      auto& st = streams_[s.name];
      if (st.pending.size() >= kMaxPending) {
        ++st.dropped;
        continue;
      }
      st.pending.push_back(e);
    }
  }
}

boost::asio::awaitable<void> Blocklister::run(std::shared_ptr<const Config> cfg, int64_t now_ms,
                                              boost::asio::thread_pool& pool,
                                              boost::asio::io_context& io) {
  for (const auto& s : cfg->streams) {
    auto it = streams_.find(s.name);
    if (!s.listmonk || it == streams_.end() || it->second.pending.empty()) continue;
    Stream& st = it->second;
    // After a failure, wait (doubling up to kMaxBackoffMs): a Listmonk that
    // is down costs one connection attempt now and then, not every round.
    if (now_ms < st.next_try_ms) continue;
    const std::size_t taken = st.pending.size();
    std::vector<std::string> addresses, domains;
    for (const auto& e : st.pending)
      (e.scope == SuppressScope::address ? addresses : domains).push_back(e.key);
    const ListmonkConfig lm = *s.listmonk;
    auto sending = rampd::offload<BlocklistResult>(
        pool, io, [lm, addresses, domains] { return blocklist(lm, addresses, domains); });
    BlocklistResult r = co_await std::move(sending);
    st.blocklisted += static_cast<uint64_t>(r.changed);
    // Only what was taken: entries added meanwhile wait their turn.
    st.sent += drop_sent(st.pending, taken, r.ok ? taken : r.sent);
    if (r.ok) {
      spdlog::info(
          "stream {}: Listmonk: {} subscriber(s) blocklisted for {} address(es) and {} "
          "domain(s) suppressed",
          s.name, r.changed, addresses.size(), domains.size());
      st.error.clear();
      st.backoff_ms = 0;
      st.next_try_ms = 0;
    } else {
      ++st.failures;
      st.backoff_ms =
          std::min<int64_t>(st.backoff_ms == 0 ? 30'000 : st.backoff_ms * 2, kMaxBackoffMs);
      st.next_try_ms = now_ms + st.backoff_ms;
      if (r.error != st.error)
        spdlog::error(
            "stream {}: Listmonk blocklist: {} ({} entries wait; next try in {} s, then less "
            "often while it fails)",
            s.name, r.error, st.pending.size(), st.backoff_ms / 1000);
      st.error = r.error;
    }
  }
}

void Blocklister::metrics(metrics::Registry& r) const {
  auto& done = r.counter("streamguard_rampd_listmonk_blocklisted_total",
                         "Listmonk subscribers rampd blocklisted because their address or domain "
                         "was suppressed.",
                         {"stream"});
  auto& waiting = r.gauge("streamguard_rampd_listmonk_blocklist_pending",
                          "Suppressed addresses and domains waiting to be blocklisted in the "
                          "stream's Listmonk.",
                          {"stream"});
  for (const auto& [name, st] : streams_) {
    metrics::mirror(done.labels({name}), double(st.blocklisted));
    waiting.labels({name}).set(double(st.pending.size()));
  }
}

nlohmann::json Blocklister::status(const std::string& stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return nullptr;
  const Stream& st = it->second;
  nlohmann::json j{{"blocklisted", st.blocklisted},
                   {"next_try", st.next_try_ms > 0 ? nlohmann::json(utc_text(st.next_try_ms))
                                                   : nlohmann::json(nullptr)},
                   {"entries_sent", st.sent},
                   {"pending", st.pending.size()},
                   {"dropped", st.dropped},
                   {"failures", st.failures}};
  if (!st.error.empty()) j["error"] = st.error;
  return j;
}

}  // namespace sg::listmonk
