#include "milter/milter_daemon.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "formats/milter_protocol.hpp"
#include "server/daemon.hpp"

namespace sg {

namespace mp = milter_proto;

MilterMetrics::MilterMetrics(metrics::Registry& r)
    : messages(r.counter("streamguard_milter_messages_total",
                         "Messages at end of data, by stream and result.", {"stream", "result"})),
      findings(r.counter("streamguard_milter_findings_total",
                         "Check findings by stream, check, action taken and kind.",
                         {"stream", "check", "action", "kind"})),
      dkim_refusals(r.counter("streamguard_milter_dkim_refusals_total",
                              "Messages refused because they would leave DKIM-unsigned, by "
                              "reason.",
                              {"stream", "reason"})),
      shadow(r.counter("streamguard_milter_shadow_total",
                       "Messages of a stream in shadow mode that were accepted but would have "
                       "been refused, by stream and the verdict they would have had.",
                       {"stream", "would"})),
      connections(r.gauge("streamguard_milter_connections", "Open milter connections.").labels({})),
      reloads(daemon::reload_counter(r)),
      opendkim_ok(r.gauge("streamguard_milter_opendkim_config_ok",
                          "1 when OpenDKIM's configuration was read without errors.")
                      .labels({})) {}

FileStamps file_stamps(const std::vector<std::string>& files) {
  FileStamps out;
  for (const auto& path : files) {
    std::error_code ec;
    out[path] = std::filesystem::last_write_time(path, ec);
  }
  return out;
}

std::shared_ptr<const MilterRuntime> load_milter_runtime(const MilterOptions& o,
                                                         std::vector<std::string>& errors,
                                                         std::vector<std::string>& files) {
  auto loaded = load_config(o.config);
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  if (!loaded.config) return nullptr;
  auto cfg = loaded.config;
  if (o.opendkim_conf_set) {
    auto c = std::make_shared<Config>(*cfg);
    c->milter.opendkim_conf = o.opendkim_conf;
    cfg = c;
  }
  auto rt = std::make_shared<MilterRuntime>();
  rt->config = cfg;
  if (cfg->milter.opendkim_conf.empty()) {
    // An error, not a quiet "cannot tell": every message on a stream that
    // checks dkim would then be refused.
    rt->opendkim_error = "[milter] opendkim_conf is empty";
    errors.push_back((o.opendkim_conf_set ? std::string("--opendkim-conf")
                                          : cfg->path + ": [milter] opendkim_conf") +
                     " is empty: streamguard-milter reads OpenDKIM's "
                     "configuration to tell whether mail will leave signed; name it (the "
                     "default is /etc/opendkim.conf)");
  } else {
    auto d = dkim::load_opendkim(cfg->milter.opendkim_conf);
    files = d.files;
    if (d.config) {
      rt->opendkim = d.config;
    } else {
      std::string all;
      for (const auto& e : d.errors) {
        errors.push_back(e.str());
        all += (all.empty() ? "" : "; ") + e.str();
      }
      rt->opendkim_error = "OpenDKIM's configuration cannot be read: " + all;
    }
  }
  return rt;
}

bool reload_milter(MilterDaemon& d, const char* why) {
  std::lock_guard lock(d.reload_mu);
  std::vector<std::string> errors, files;
  auto rt = load_milter_runtime(d.opts, errors, files);
  if (!rt) {
    for (const auto& e : errors) spdlog::error("reload: {}", e);
    spdlog::error("reload ({}): {} has errors; keeping the running configuration", why,
                  d.opts.config);
    return false;
  }
  for (const auto& e : errors) spdlog::error("reload: {}", e);
  d.stats.opendkim_ok.set(rt->opendkim ? 1 : 0);
  if (!rt->opendkim) {
    // OpenDKIM's files are broken: keep the last good reading rather than
    // refuse every message, and say so loudly.
    auto old = d.runtime.load();
    if (old && old->opendkim) {
      auto keep = std::make_shared<MilterRuntime>(*rt);
      keep->opendkim = old->opendkim;
      keep->opendkim_error.clear();
      rt = keep;
      spdlog::error("reload ({}): keeping the last good reading of OpenDKIM's configuration", why);
    }
  }
  d.watched = file_stamps(files);
  d.runtime.store(rt);
  spdlog::info("reload ({}): {} loaded", why, d.opts.config);
  return true;
}

void reload_and_count(MilterDaemon& d, const char* why) {
  const bool ok = reload_milter(d, why);
  d.stats.reloads.labels({ok ? "ok" : "error"}).inc();
  d.record.reload(ok);
}

std::string milter_status_json(const MilterDaemon& d) {
  auto rt = d.runtime.load();
  const auto& cfg = *rt->config;
  std::string out = "{\"daemon\":\"streamguard-milter\"," + d.record.json_fields() +
                    ",\"config\":" + json::quote(cfg.path) +
                    ",\"opendkim_conf\":" + json::quote(cfg.milter.opendkim_conf) +
                    ",\"opendkim_ok\":" + (rt->opendkim ? "true" : "false") +
                    ",\"messages\":" + std::to_string(d.decided.load()) + ",\"streams\":[";
  for (std::size_t i = 0; i < cfg.streams.size(); ++i) {
    const auto& s = cfg.streams[i];
    out += std::string(i ? "," : "") + "{\"name\":" + json::quote(s.name) + ",\"mode\":\"" +
           to_string(s.mode) + "\",\"dkim\":\"" + to_string(s.milter.dkim) +
           "\",\"message_id\":\"" + to_string(s.milter.message_id) + "\",\"html_only\":\"" +
           to_string(s.milter.html_only) + "\",\"unsubscribe\":\"" +
           to_string(s.milter.unsubscribe) + "\",\"from_domain\":\"" +
           to_string(s.milter.from_domain) + "\"}";
  }
  return out + "]}";
}

Negotiated negotiate_milter(uint32_t mta_actions, uint32_t mta_protocol) {
  constexpr uint32_t skip = mp::kNoHelo | mp::kNoRcpt | mp::kNoUnknown | mp::kNoData;
  constexpr uint32_t no_reply = mp::kNoReplyConnect | mp::kNoReplyMail | mp::kNoReplyHeader |
                                mp::kNoReplyEndOfHeaders | mp::kNoReplyBody;
  Negotiated n;
  n.actions = mta_actions & mp::kActAddHeaders;
  n.protocol = mta_protocol & (skip | no_reply);
  n.no_reply = n.protocol & no_reply;
  spdlog::debug("milter: MTA offers protocol steps {:#x}; taking {:#x}", mta_protocol, n.protocol);
  return n;
}

std::unique_ptr<MilterSession> open_session(MilterDaemon& d, std::string client_addr,
                                            std::string_view client_name,
                                            const MacroLookup& macro) {
  auto s = std::make_unique<MilterSession>(d.runtime.load());
  d.stats.connections.add(1);
  if (client_addr.empty()) client_addr = macro("{client_addr}");
  s->connect(client_addr, client_name, macro("{daemon_port}"), macro("{daemon_name}"));
  return s;
}

void close_session(MilterDaemon& d, std::unique_ptr<MilterSession>& s) {
  if (!s) return;
  d.stats.connections.add(-1);
  s.reset();
}

void session_mail_from(MilterSession& s, std::string_view sender, const MacroLookup& macro) {
  s.mail_from(sender, !macro("{auth_authen}").empty());
}

MessageDecision finish_message(MilterDaemon& app, MilterSession& s, const MacroLookup& macro) {
  const std::string qid = macro("i");
  auto d = s.end_of_message();
  auto& st = app.stats;
  const std::string stream = d.stream.empty() ? "none" : d.stream;
  st.messages.labels({stream, to_string(d.verdict)}).inc();
  const bool shadow = d.would != MilterVerdict::accept;
  if (shadow) st.shadow.labels({stream, to_string(d.would)}).inc();
  std::string checks;
  for (const auto& f : d.findings) {
    st.findings.labels({stream, f.check, to_string(f.action), f.kind}).inc();
    if (!shadow && f.check == "dkim" &&
        (f.action == CheckAction::tempfail || f.action == CheckAction::reject))
      st.dkim_refusals.labels({stream, f.kind}).inc();
    checks += (checks.empty() ? "" : ",") + f.check + ":" + to_string(f.action);
  }
  ++app.decided;
  spdlog::info(
      "message queue_id={} stream={} client={} from_domain={} result={}{} findings={} "
      "reply=\"{}\"",
      qid.empty() ? "-" : qid, stream, s.client_addr().empty() ? "-" : s.client_addr(),
      d.from_domain.empty() ? "-" : d.from_domain, to_string(d.verdict),
      shadow ? std::string(" would=") + to_string(d.would) : "", checks.empty() ? "-" : checks,
      d.verdict == MilterVerdict::accept && !shadow ? "" : d.text);
  for (const auto& f : d.findings)
    if (f.action == CheckAction::warn)
      spdlog::warn("message queue_id={} stream={} {}: {}", qid.empty() ? "-" : qid, stream, f.check,
                   f.reason);
  return d;
}

std::string reply_text(const MessageDecision& d) {
  std::string s = d.text;
  std::erase_if(s, [](char c) { return c == '%' || c == '\r' || c == '\n'; });
  if (s.size() > 900) s.resize(900);
  return s;
}

}  // namespace sg
