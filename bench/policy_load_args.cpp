#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "bench/policy_load_args.hpp"
#include "formats/policy_protocol.hpp"

namespace sg::policy_load {

namespace {

// A small deterministic generator (splitmix64): the same seed, the same mix.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

constexpr const char* kHelp = R"(NAME
    streamguard-policy-load - load generator for Postfix policy services

SYNOPSIS
    streamguard-policy-load --target ADDR [--connections N]
                            [--duration S | --requests N] [--warmup S]
                            [--ports P,P...] [--recipients FILE]
                            [--timeout-ms MS] [--max-seconds S] [--json]

DESCRIPTION
    Opens N persistent connections to a policy service and, on each, sends
    one RCPT-stage request at a time and waits for its answer before sending
    the next, as Postfix's smtpd does. Requests carry the attributes Postfix
    3.7 sends. After the warmup, every request started is measured; the run
    reports requests, seconds, requests/s, latency percentiles (microseconds)
    and how many answers had each action.

OPTIONS
    --target ADDR      unix:/path or inet:HOST:PORT, HOST a loopback address
                       (127.0.0.0/8 or ::1). Other hosts are refused.
    --connections N    Concurrent connections (default 32).
    --duration S       Measure for S seconds after the warmup (default 10
                       when --requests is not given).
    --requests N       Measure N requests instead of a duration.
    --warmup S         Seconds of unmeasured load first (default 2).
    --ports LIST       server_port values cycled over the requests
                       (default 25,2526).
    --recipients FILE  Recipient addresses, one a line ('#' comments and
                       blank lines skipped), cycled. Default: the built-in
                       mix below.
    --timeout-ms MS    An answer later than this counts as an error and the
                       connection is closed (default 10000).
    --max-seconds S    Hard bound on the whole run, warmup and drain
                       included (default 600).
    --seed N           Seed of the built-in mix (default 1).
    --json             Print the report as one JSON object.
    --help             This text.

BUILT-IN RECIPIENT MIX (per 100 recipients, 1000 distinct addresses)
    60  institutional: 45 clinicNNN.example, 15 other practice and
        business domains (no list, no operator: stream caps only)
    12  gmail.com          consumer; operator google
     8  outlook.com, 2 hotmail.com   consumer; operator microsoft
     6  yahoo.com, 2 aol.com         yahoo_family (and consumer)
     3  direct.clinicNNN.example     direct_hisp (*direct*)
     2  adelphia.net                 dead_isp
     2  icloud.com                   consumer; operator apple
     3  comcast.net                  consumer; no operator
    Each recipient is sent once with every --ports value.

EXIT STATUS
    0 when the run completed with no error, 1 when errors were counted,
    2 on a usage error or when no connection could be opened.
)";

bool parse_double(std::string_view s, double& out) {
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size() && errno == 0 && std::isfinite(out) &&
         out >= 0;
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// "--ports 25,2526".
bool parse_ports(std::string_view v, std::vector<uint16_t>& out) {
  out.clear();
  while (!v.empty()) {
    const auto comma = v.find(',');
    unsigned p = 0;
    if (!parse_uint(v.substr(0, comma), p) || p == 0 || p > 65535) return false;
    out.push_back(static_cast<uint16_t>(p));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return !out.empty();
}

std::string parse_target(std::string_view v, Options& o) {
  std::string err;
  auto ep = sg::parse_endpoint(v, err);
  if (!ep) return "--target: " + err;
  if (!ep->is_loopback())
    return "--target: " + ep->to_string() +
           " is not on this machine; only unix: and loopback TCP targets are allowed";
  o.target = *ep;
  o.target_text = ep->to_string();
  return "";
}

// One option with its value; what is wrong with it, "" when it is taken.
std::string take_option(std::string_view a, std::string_view v, Options& o) {
  if (a == "--target") return parse_target(v, o);
  if (a == "--connections")
    return parse_uint(v, o.connections) && o.connections > 0 && o.connections <= 10000
               ? ""
               : "--connections: expected 1..10000";
  if (a == "--duration")
    return parse_double(v, o.duration) && o.duration > 0 ? "" : "--duration: seconds > 0";
  if (a == "--requests")
    return parse_uint(v, o.requests) && o.requests > 0 ? "" : "--requests: expected N > 0";
  if (a == "--warmup") return parse_double(v, o.warmup) ? "" : "--warmup: seconds >= 0";
  if (a == "--ports") return parse_ports(v, o.ports) ? "" : "--ports: bad port list";
  if (a == "--recipients") {
    o.recipients_file = std::string(v);
    return "";
  }
  if (a == "--timeout-ms")
    return parse_double(v, o.timeout_ms) && o.timeout_ms > 0 ? "" : "--timeout-ms: > 0";
  if (a == "--max-seconds")
    return parse_double(v, o.max_seconds) && o.max_seconds > 0 ? "" : "--max-seconds: > 0";
  if (a == "--seed") return parse_uint(v, o.seed) ? "" : "--seed: expected an integer";
  return "unknown option '" + std::string(a) + "'";
}

std::string three_digits(unsigned n) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03u", n % 1000);
  return buf;
}

std::vector<std::string> builtin_recipients(uint64_t seed) {
  static const char* kFirst[] = {"jane",  "john", "maria",  "wei",    "ahmed", "olga",
                                 "li",    "sam",  "nina",   "pedro",  "kofi",  "ana",
                                 "front", "info", "office", "billing"};
  static const char* kOther[] = {
      "familymed",  "smiledental",  "northclinic",         "eyecare",
      "pediatrics", "acme-freight", "bluewater-logistics", "riverbend-health"};
  Rng rng{seed};
  auto local = [&] {
    return std::string(kFirst[rng.below(std::size(kFirst))]) + "." +
           std::to_string(rng.below(900) + 100);
  };
  std::vector<std::string> out;
  for (unsigned block = 0; block < 10; ++block) {
    std::vector<std::string> b;
    for (int i = 0; i < 45; ++i)
      b.push_back(local() + "@clinic" + three_digits(rng.below(400) + 1) + ".example");
    for (int i = 0; i < 15; ++i)
      b.push_back(local() + "@" + kOther[rng.below(std::size(kOther))] +
                  std::to_string(rng.below(50) + 1) + ".example");
    for (int i = 0; i < 12; ++i) b.push_back(local() + "@gmail.com");
    for (int i = 0; i < 8; ++i) b.push_back(local() + "@outlook.com");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@hotmail.com");
    for (int i = 0; i < 6; ++i) b.push_back(local() + "@yahoo.com");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@aol.com");
    for (int i = 0; i < 3; ++i)
      b.push_back(local() + "@direct.clinic" + three_digits(rng.below(400) + 1) + ".example");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@adelphia.net");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@icloud.com");
    for (int i = 0; i < 3; ++i) b.push_back(local() + "@comcast.net");
    // Shuffle within the block so kinds interleave but proportions hold.
    for (std::size_t i = b.size() - 1; i > 0; --i) std::swap(b[i], b[rng.below(i + 1)]);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

std::optional<std::vector<std::string>> file_recipients(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    auto e = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

// One request as Postfix 3.7's smtpd sends it at the RCPT stage.
std::string make_request(const std::string& recipient, uint16_t port, uint64_t k, Rng& rng) {
  char qid[16];
  std::snprintf(qid, sizeof qid, "%010llX", static_cast<unsigned long long>(rng.next() >> 24));
  sg::policy::Request r;
  r.set("request", "smtpd_access_policy");
  r.set("protocol_state", "RCPT");
  r.set("protocol_name", "ESMTP");
  r.set("client_address", "127.0.0.1");
  r.set("client_name", "localhost");
  r.set("client_port", std::to_string(32768 + rng.below(28000)));
  r.set("reverse_client_name", "localhost");
  r.set("server_address", "127.0.0.1");
  r.set("server_port", std::to_string(port));
  r.set("helo_name", "listmonk.example");
  r.set("sender", "bounces+" + std::to_string(k % 100000) + "@news.example");
  r.set("recipient", recipient);
  r.set("recipient_count", "0");
  r.set("queue_id", qid);
  r.set("instance", std::to_string(1000 + k % 9000) + ".65a1b2c3.d4e5f.0");
  r.set("size", std::to_string(20000 + rng.below(60000)));
  r.set("etrn_domain", "");
  r.set("stress", "");
  r.set("sasl_method", "");
  r.set("sasl_username", "");
  r.set("sasl_sender", "");
  r.set("ccert_subject", "");
  r.set("ccert_issuer", "");
  r.set("ccert_fingerprint", "");
  r.set("ccert_pubkey_fingerprint", "");
  r.set("encryption_protocol", "");
  r.set("encryption_cipher", "");
  r.set("encryption_keysize", "0");
  r.set("policy_context", "");
  r.set("server_hostname", "mx.news.example");
  r.set("compatibility_level", "3.6");
  r.set("mail_version", "3.7.11");
  return sg::policy::encode_request(r);
}

}  // namespace

std::optional<Options> parse_args(int argc, char** argv, int& exit_code) {
  Options o;
  bool have_target = false, have_duration = false;
  exit_code = 2;
  auto fail = [&](const std::string& msg) -> std::optional<Options> {
    std::cerr << "streamguard-policy-load: " << msg << " (see --help)\n";
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      exit_code = 0;
      return std::nullopt;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) return fail(std::string(a) + " needs a value or is unknown");
    if (const std::string err = take_option(a, argv[++i], o); !err.empty()) return fail(err);
    have_target = have_target || a == "--target";
    have_duration = have_duration || a == "--duration";
  }
  if (!have_target) return fail("--target is required");
  if (have_duration && o.requests) return fail("give --duration or --requests, not both");
  if (!have_duration && !o.requests) o.duration = 10;
  exit_code = 0;
  return o;
}

std::optional<std::vector<std::string>> request_pool(const Options& o) {
  std::vector<std::string> rcpts;
  if (!o.recipients_file.empty()) {
    auto r = file_recipients(o.recipients_file);
    if (!r || r->empty()) return std::nullopt;
    rcpts = std::move(*r);
  } else {
    rcpts = builtin_recipients(o.seed);
  }
  // Bounded in size.
  const std::size_t nports = o.ports.size();
  const std::size_t pool_size = std::min<std::size_t>(rcpts.size() * nports, 1'000'000);
  std::vector<std::string> pool;
  pool.reserve(pool_size);
  Rng rng{o.seed ^ 0x5eedULL};
  for (std::size_t k = 0; k < pool_size; ++k) {
    // Request k: recipient j = k % R in pass m = k / R, with port (j + m) % P:
    // ports alternate request by request, and over the whole R * P pool every
    // recipient meets every port.
    const auto& rcpt = rcpts[k % rcpts.size()];
    const uint16_t port = o.ports[(k % rcpts.size() + k / rcpts.size()) % nports];
    pool.push_back(make_request(rcpt, port, k, rng));
  }
  return pool;
}

ActionKind classify_action(std::string_view action) {
  auto word = action.substr(0, action.find_first_of(" \t"));
  auto eq = [&](std::string_view w) {
    if (w.size() != word.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(word[i])) != w[i]) return false;
    return true;
  };
  if (eq("DUNNO")) return kDunno;
  if (eq("REJECT")) return kReject;
  if (eq("DEFER_IF_PERMIT")) return kDefer;
  if (eq("HOLD")) return kHold;
  return kOtherAction;
}

}  // namespace sg::policy_load
