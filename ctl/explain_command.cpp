#include "ctl/explain_command.hpp"

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/dns_server.hpp"
#include "common/metrics.hpp"
#include "common/redis_url.hpp"
#include "recipient/recipient_check.hpp"
#include "rules/suppression.hpp"
#include "store/cap_limiter.hpp"

namespace sg {

namespace {

namespace net = boost::asio;

struct ExplainArgs {
  std::string config, recipient, redis, dns;
  uint16_t port = 0;
};

int explain_usage(const std::string& why) {
  std::cerr << "streamguardctl: explain: " << why << "\n"
            << "usage: streamguardctl explain --config FILE --port PORT --recipient ADDRESS "
               "[--redis URL] [--dns IP[:PORT]]\n";
  return 2;
}

std::optional<ExplainArgs> parse_explain_args(const std::vector<std::string>& args,
                                              std::string& why) {
  ExplainArgs a;
  std::string port;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string* slot = args[i] == "--config"      ? &a.config
                        : args[i] == "--recipient" ? &a.recipient
                        : args[i] == "--redis"     ? &a.redis
                        : args[i] == "--dns"       ? &a.dns
                        : args[i] == "--port"      ? &port
                                                   : nullptr;
    if (!slot) return why = "unknown argument '" + args[i] + "'", std::nullopt;
    if (i + 1 >= args.size() || args[i + 1].empty() || !slot->empty())
      return why = args[i] + " needs one value", std::nullopt;
    *slot = args[++i];
  }
  if (a.config.empty() || a.recipient.empty() || port.empty())
    return why = "--config, --port and --recipient are needed", std::nullopt;
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return why = "--port '" + port + "' is not a port number", std::nullopt;
  a.port = static_cast<uint16_t>(p);
  if (std::string e; !a.dns.empty() && !parse_dns_server(a.dns, e))
    return why = "--dns: " + e, std::nullopt;
  return a;
}

void line(const std::string& what, const std::string& text) {
  std::string label = "  " + what;
  label.resize(16, ' ');
  std::cout << label << text << "\n";
}

// One cap as it stands: "stream hourly: 50/h, a slot is free".
std::string cap_text(const LimiterSpec& spec, const LimiterState& st) {
  std::string who = (spec.op.empty() ? std::string("stream") : spec.op) + " " + spec.window + ": ";
  if (st.cap < 0)
    return who + "none" +
           (spec.window == "daily" ? " (" + std::to_string(st.used) + " counted today)" : "");
  std::string text = who + std::to_string(st.cap) + (spec.window == "hourly" ? "/h" : "");
  if (spec.window == "daily") text += ", " + std::to_string(st.used) + " accepted today";
  if (!st.refused) return text + (spec.window == "hourly" ? ", a slot is free" : "");
  if (st.cap == 0) return text + "  <- closed";
  const std::string wait = format_duration_ms(st.retry_ms);
  return text + "  <- refuses: " +
         (spec.window == "hourly" ? "the next slot is in " : "the count starts over in ") + wait;
}

// What the answer would be: the stream's verdict, or in shadow mode what it
// would answer enforcing, said as such.
int answer(const Verdict& v, const std::string& enforcing_reply) {
  if (v.shadow)
    line("answer", "DUNNO: stream in shadow mode; enforcing, it would answer " + enforcing_reply);
  else
    line("answer", v.reply);
  std::cout << "(a dry run: nothing was charged)\n";
  return v.action == Action::dunno && !v.shadow ? 0 : 1;
}

struct Explain {
  const Runtime& rt;
  const StreamConfig& stream;
  ExplainArgs args;
  CapLimiter& limiter;
  RedisClient& redis;
  MxLookup* mx;
  std::string where;
  int status = 2;

  net::awaitable<void> run(net::io_context& io) {
    const Config& cfg = *rt.config;
    auto checking = check_recipient(rt, stream, args.recipient, mx);
    RecipientCheck c = co_await std::move(checking);
    const auto classified = rt.classifier.classify(c.domain);
    std::string lists;
    for (const auto& l : classified.lists) lists += (lists.empty() ? "" : ", ") + l;
    line("domain", c.domain + (lists.empty() ? ", on no list" : ", on the lists " + lists));
    line("provider",
         c.op.empty() ? std::string("none known (stream caps only)") : c.op + " (" + c.op_by + ")");
    StreamConfig enforcing = stream;
    enforcing.mode = StreamMode::enforce;
    if (c.verdict) {
      const Verdict v = *c.verdict;
      std::string would = v.reply;
      if (v.shadow) {
        if (auto e = decide_exclusion(enforcing, classified)) would = e->reply;
      }
      line("decided", "before any cap: nothing in Redis is looked at");
      status = answer(v, would);
      io.stop();
      co_return;
    }
    net::steady_timer wait(io);
    for (int i = 0; i < 100 && !redis.connected(); ++i) {
      wait.expires_after(std::chrono::milliseconds(50));
      auto waiting = wait.async_wait(net::use_awaitable);
      co_await std::move(waiting);
    }
    LimiterPlan plan = c.plan;
    plan.dry_run = true;
    const int64_t now = SystemClock().now_ms();
    Stored<LimiterResult> r;
    if (redis.connected()) {
      auto charging = limiter.charge(stream.name, plan, now, civil_day(now), {});
      r = co_await std::move(charging);
    } else {
      r.error = "not reachable within 5 s";
    }
    if (!r.value) {
      line("Redis", where + ": " + r.error);
      const Verdict v = decide_store_error(stream, cfg.redis.on_error, where);
      answer(v, decide_store_error(enforcing, cfg.redis.on_error, where).reply);
      status = 3;  // not a verdict on the recipient: Redis could not be asked
      io.stop();
      co_return;
    }
    const LimiterResult& res = *r.value;
    if (res.not_kept) {
      line("Redis", where + " has no streamguard-rampd mark: the day's counts are not there");
    } else if (!res.suppressed_field.empty()) {
      line("suppressed", suppression::refusal_text(res.suppressed_field, res.suppressed_record));
    } else {
      line("suppressed", "no");
      if (res.breaker != Action::dunno)
        line("breaker", "open for another " + format_duration_ms(res.breaker_until_ms - now) +
                            ": " + res.breaker_reason);
      else if (res.recovering)
        line("breaker", "recovering for another " + format_duration_ms(res.breaker_until_ms - now) +
                            ", the caps it covers cut: " + res.breaker_reason);
      else
        line("breaker", "none open");
      for (std::size_t i = 0; i < plan.limiters.size() && i < res.states.size(); ++i)
        line(i == 0 ? "caps" : "", cap_text(plan.limiters[i], res.states[i]));
    }
    const Verdict v = res.not_kept ? decide_store_unkept(stream, cfg.redis.on_error, where)
                                   : decide_caps(stream, plan, res, now);
    const std::string would = res.not_kept
                                  ? decide_store_unkept(enforcing, cfg.redis.on_error, where).reply
                                  : decide_caps(enforcing, plan, res, now).reply;
    status = answer(v, would);
    io.stop();
  }
};

}  // namespace

int run_explain(const std::vector<std::string>& argv) {
  std::string why;
  auto a = parse_explain_args(argv, why);
  if (!a) return explain_usage(why);
  auto loaded = load_runtime(
      a->config,
      DnsChoice{a->dns.empty() ? std::vector<std::string>{} : std::vector{a->dns}, false});
  if (!loaded.runtime) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 3;
  }
  const Runtime& rt = *loaded.runtime;
  const Config& cfg = *rt.config;
  set_process_timezone(cfg.timezone);  // the day the daily caps count in
  RedisUrl url = cfg.redis.target;
  if (!a->redis.empty()) {
    auto u = parse_redis_url(a->redis, why);
    if (!u) return explain_usage("--redis: " + why);
    url = *u;
  }
  std::cout << "streamguardctl explain: what streamguard-policyd would answer now\n";
  line("recipient", a->recipient + ", submitted on port " + std::to_string(a->port));
  const StreamConfig* stream = cfg.stream_for_port(a->port);
  if (!stream) {
    line("stream", "none takes port " + std::to_string(a->port) +
                       " ([policyd] unknown_port = " + to_string(cfg.policyd.unknown_port) + ")");
    return answer(decide_unknown_port(a->port, cfg.policyd.unknown_port), "");
  }
  line("stream", stream->name + " (" + to_string(stream->mode) +
                     "; over cap: " + to_string(stream->over_cap) + ")");

  net::io_context io(1);
  SystemClock clock;
  metrics::Registry registry;
  std::unique_ptr<MxLookup> mx;
  if (cfg.dns.enabled) mx = std::make_unique<MxLookup>(io, cfg.dns, clock, registry);
  std::unique_ptr<CapLimiter> limiter;
  RedisClient redis(io, RedisClientOptions{url, std::chrono::milliseconds(2000)},
                    RedisClientHooks{[&] { limiter->load_scripts(); }, {}, {}});
  limiter = std::make_unique<CapLimiter>(redis, cfg.redis.key_prefix);
  Explain e{rt, *stream, *a, *limiter, redis, mx.get(), redis_location(url)};
  redis.start();
  // An exception out of the run (none is expected) is a failure to judge,
  // never the usage error the initial status would say.
  net::co_spawn(io, e.run(io), [&e](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      std::cerr << "streamguardctl explain: " << ex.what() << "\n";
    }
    e.status = 3;
  });
  io.run();
  return e.status;
}

}  // namespace sg
