#include "ctl/suppress_command.hpp"

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <iostream>
#include <optional>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/text.hpp"
#include "ctl/suppress_csv.hpp"
#include "rules/classifier.hpp"
#include "rules/suppression.hpp"
#include "store/suppression_store.hpp"

namespace sg {

const char* const kSuppressUsage =
    "usage: streamguardctl suppress show ADDRESS|DOMAIN --config FILE [--redis URL]\n"
    "       streamguardctl suppress add ADDRESS|DOMAIN --config FILE --reason TEXT [--days N]\n"
    "       streamguardctl suppress remove ADDRESS|DOMAIN --config FILE\n"
    "       streamguardctl suppress list --config FILE [FILTER...]\n"
    "       streamguardctl suppress import FILE.csv|- --config FILE [--reason TEXT] [--days N]\n"
    "                                      [--dry-run]\n"
    "       streamguardctl suppress export --config FILE [--out FILE.csv] [--domains] [FILTER...]\n"
    "       FILTER: --kind address|domain, --rule NAME, --stream NAME, --newer-than DAYS,\n"
    "               --older-than DAYS (by when the entry was learned or added)\n"
    "       (--redis URL, on every subcommand, instead of the config's [redis] url)\n";

namespace {

namespace net = boost::asio;

struct Args {
  std::string verb, target, config, reason, redis, out;
  int days = 0;
  bool dry_run = false, domains = false;
  suppress_cli::Filter filter;
};

bool takes_target(const std::string& verb) {
  return verb != "list" && verb != "export";
}

int usage(const std::string& why) {
  std::cerr << "streamguardctl: suppress: " << why << "\n" << kSuppressUsage;
  return 2;
}

// As an import reads it; also a name without a dot ("localhost"), which
// earlier versions let `add` suppress, so show and remove still reach it.
std::string field_of(const std::string& target) {
  std::string f = suppression::field_for_target(target);
  const std::string t = text::lower(target);
  if (f.empty() && !t.empty() && t.size() <= 253 &&
      t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos)
    f = suppression::entry_field(SuppressScope::domain, t);
  return f;
}

std::vector<std::string> stream_names(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& s : cfg.streams) out.push_back(s.name);
  return out;
}

void print_entry(const suppression::Entry& e) {
  std::cout << to_string(e.scope) << " " << e.key << ": suppressed until " << utc_text(e.until_ms)
            << "\n";
  if (e.rule == "manual" || e.rule == "import")
    std::cout << (e.rule == "manual" ? "  added by hand " : "  imported ") << utc_text(e.learned_ms)
              << ": " << e.text << "\n";
  else
    std::cout << "  rule " << e.rule << ", learned " << utc_text(e.learned_ms)
              << (e.stream.empty() ? "" : " from stream " + e.stream) << "\n"
              << "  reply: " << e.text << "\n";
}

net::awaitable<int> show(SuppressionStore& store, const Args& a) {
  std::vector<std::string> fields{field_of(a.target)};
  // An address is also refused for its domain.
  if (fields[0].starts_with("a:"))
    fields.push_back(
        suppression::entry_field(SuppressScope::domain, *recipient_domain(fields[0].substr(2))));
  auto reading = store.get(fields);
  auto got = co_await std::move(reading);
  if (!got.value) {
    std::cerr << "streamguardctl: suppress: " << got.error << "\n";
    co_return 1;
  }
  const int64_t now = SystemClock{}.now_ms();
  bool any = false;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& rec = (*got.value)[i];
    const auto e = rec.empty() ? std::nullopt : suppression::parse_entry(fields[i], rec);
    if (!rec.empty() && !e) {
      std::cout << fields[i] << ": a record streamguard cannot read: " << rec << "\n";
      any = true;
    } else if (e && e->until_ms > now) {
      print_entry(*e);
      any = true;
    } else {
      std::cout << (i == 0 && fields[0].starts_with("a:") ? "address " : "domain ")
                << fields[i].substr(2) << ": not suppressed"
                << (e ? " (its entry ended " + utc_text(e->until_ms) + ")" : "") << "\n";
    }
  }
  co_return any ? 0 : 1;
}

net::awaitable<int> add(SuppressionStore& store, const Args& a, const Config& cfg) {
  const std::string field = field_of(a.target);
  suppression::Entry e;
  e.scope = field.starts_with("a:") ? SuppressScope::address : SuppressScope::domain;
  e.key = field.substr(2);
  e.rule = "manual";
  e.text = suppression::entry_text(a.reason);  // it goes into an SMTP reply
  e.learned_ms = SystemClock{}.now_ms();
  const int days = a.days > 0 ? a.days : (e.scope == SuppressScope::address ? 365 : 30);
  e.until_ms = e.learned_ms + int64_t{days} * 86'400'000;
  auto adding = store.add(e, stream_names(cfg));
  const std::string err = co_await std::move(adding);
  if (!err.empty()) {
    std::cerr << "streamguardctl: suppress: " << err << "\n";
    co_return 1;
  }
  print_entry(e);
  co_return 0;
}

net::awaitable<int> remove(SuppressionStore& store, const Args& a, const Config& cfg) {
  const std::string field = field_of(a.target);
  auto removing = store.remove(field, stream_names(cfg));
  auto r = co_await std::move(removing);
  if (!r.value) {
    std::cerr << "streamguardctl: suppress: " << r.error << "\n";
    co_return 1;
  }
  std::cout << field.substr(2)
            << (*r.value ? ": removed; every stream may mail it again\n"
                         : ": was not suppressed (removed from every copy)\n");
  co_return 0;
}

net::awaitable<int> list(SuppressionStore& store, const Args& a) {
  const int64_t now = SystemClock{}.now_ms();
  std::string cursor = "0";
  std::size_t shown = 0;
  do {
    auto paging = store.page(cursor, 1000);
    auto p = co_await std::move(paging);
    if (!p.value) {
      std::cerr << "streamguardctl: suppress: " << p.error << "\n";
      co_return 1;
    }
    cursor = p.value->cursor;
    for (const auto& [field, rec] : p.value->entries) {
      const auto e = suppression::parse_entry(field, rec);
      if (!e || e->until_ms <= now || !a.filter.matches(*e)) continue;
      std::cout << to_string(e->scope) << "\t" << e->key << "\t" << utc_text(e->until_ms) << "\t"
                << e->rule << "\t" << (e->stream.empty() ? "-" : e->stream) << "\t"
                << (e->dsn.empty() ? "-" : e->dsn) << "\t" << e->text << "\n";
      ++shown;
    }
  } while (cursor != "0");
  std::cerr << shown << " entr" << (shown == 1 ? "y" : "ies") << "\n";
  co_return 0;
}

std::optional<Args> parse(const std::vector<std::string>& args, std::string& why) {
  Args a;
  if (args.empty()) {
    why = "which: show, add, remove, list, import or export?";
    return std::nullopt;
  }
  a.verb = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& s = args[i];
    const bool has = i + 1 < args.size();
    if (s == "--config" && has)
      a.config = args[++i];
    else if (s == "--redis" && has)
      a.redis = args[++i];
    else if (s == "--reason" && has)
      a.reason = args[++i];
    else if (s == "--kind" && has)
      a.filter.kind = args[++i];
    else if (s == "--rule" && has)
      a.filter.rule = args[++i];
    else if (s == "--stream" && has)
      a.filter.stream = args[++i];
    else if (s == "--out" && has)
      a.out = args[++i];
    else if (s == "--dry-run")
      a.dry_run = true;
    else if (s == "--domains")
      a.domains = true;
    else if ((s == "--days" || s == "--newer-than" || s == "--older-than") && has) {
      int n = -1;
      try {
        n = std::stoi(args[++i]);
      } catch (...) {
      }
      if (n < 1 || n > 3 * 366) {
        why = s + " takes 1 to 1098 (days)";
        return std::nullopt;
      }
      const int64_t ago = SystemClock{}.now_ms() - int64_t{n} * 86'400'000;
      if (s == "--days")
        a.days = n;
      else if (s == "--newer-than")
        a.filter.learned_after_ms = ago;
      else
        a.filter.learned_before_ms = ago;
    } else if ((!s.starts_with("-") || s == "-") && a.target.empty() && takes_target(a.verb)) {
      a.target = s;
    } else {
      why = "unexpected '" + s + "'";
      return std::nullopt;
    }
  }
  if (a.verb != "show" && a.verb != "add" && a.verb != "remove" && a.verb != "list" &&
      a.verb != "import" && a.verb != "export")
    why = "unknown subcommand '" + a.verb + "'";
  else if (a.config.empty())
    why = a.verb + " needs --config FILE";
  else if (a.verb == "import" && a.target.empty())
    why = "import needs a FILE.csv (or - for standard input)";
  else if (takes_target(a.verb) && a.target.empty())
    why = a.verb + " needs an ADDRESS or a DOMAIN";
  else if (takes_target(a.verb) && a.verb != "import" && field_of(a.target).empty())
    why = "'" + a.target + "' is neither an address (name@domain) nor a domain";
  else if (a.verb == "add" && a.reason.empty())
    why = "add needs --reason TEXT (shown to whoever is refused, and by show)";
  else if (!a.filter.kind.empty() && a.filter.kind != "address" && a.filter.kind != "domain")
    why = "--kind is address or domain";
  else if (a.domains && a.verb != "export")
    why = "--domains goes with export";
  else if (!a.out.empty() && a.verb != "export")
    why = "--out goes with export";
  else if (a.dry_run && a.verb != "import")
    why = "--dry-run goes with import";
  return why.empty() ? std::optional<Args>(a) : std::nullopt;
}

}  // namespace

int run_suppress(const std::vector<std::string>& args) {
  std::string why;
  auto a = parse(args, why);
  if (!a) return usage(why);
  auto loaded = load_config(a->config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const Config& cfg = *loaded.config;
  RedisUrl url = cfg.redis.target;
  if (!a->redis.empty()) {
    std::string err;
    auto u = parse_redis_url(a->redis, err);
    if (!u) return usage("--redis: " + err);
    url = *u;
  }
  net::io_context io(1);
  int status = 1;
  bool started = false;
  SuppressionStore* store_ptr = nullptr;
  // The closure outlives the coroutine: io.run() returns before it goes.
  auto run = [&]() -> net::awaitable<void> {
    auto doing =
        a->verb == "show"     ? show(*store_ptr, *a)
        : a->verb == "add"    ? add(*store_ptr, *a, cfg)
        : a->verb == "remove" ? remove(*store_ptr, *a, cfg)
        : a->verb == "import"
            ? suppress_cli::import_csv(
                  *store_ptr, suppress_cli::ImportArgs{a->target, a->reason, a->days, a->dry_run},
                  stream_names(cfg))
        : a->verb == "export" ? suppress_cli::export_csv(*store_ptr, a->filter, a->out, a->domains)
                              : list(*store_ptr, *a);
    status = co_await std::move(doing);
    io.stop();
  };
  RedisClient redis(io, RedisClientOptions{url, std::chrono::milliseconds(5000)},
                    RedisClientHooks{[&] {
                                       if (started) return;
                                       started = true;
                                       net::co_spawn(io, run(), [](std::exception_ptr) {});
                                     },
                                     [&](std::string_view down) {
                                       if (started) return;
                                       std::cerr
                                           << "streamguardctl: suppress: " << redis_location(url)
                                           << ": " << down << "\n";
                                       io.stop();
                                     },
                                     {}});
  SuppressionStore store(redis, cfg.redis.key_prefix);
  store_ptr = &store;
  redis.start();
  net::steady_timer give_up(io, std::chrono::seconds(60));
  // Only for the connection: once connected, each command has its own deadline.
  give_up.async_wait([&](boost::system::error_code ec) {
    if (ec || started) return;
    std::cerr << "streamguardctl: suppress: no answer from Redis within 60 s\n";
    io.stop();
  });
  io.run();
  return status;
}

}  // namespace sg
