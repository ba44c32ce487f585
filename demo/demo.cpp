// streamguard-demo: README command 1 (scripts/demo). The whole pipeline on
// loopback, a small campaign through both streams as Listmonk would send it,
// and what became of every recipient and why.
//
//   build/demo/streamguard-demo      (as root: it starts its own Postfix)
//
// It starts, on the end-to-end tests' harness (tests/e2e/e2e_harness.hpp),
// a private Postfix with both stream ports as streamguardctl renders them,
// OpenDKIM and streamguard-milter as its milters, streamguard-policyd,
// streamguard-rampd draining held mail, Redis, a dnsmasq answering the MX
// lookups on 127.0.0.1, and a loopback SMTP server standing in for every
// receiving mail server. Screens:
//   1. trucking: a campaign burst over the hourly cap (held, then drained),
//      Yahoo-family and dead-ISP recipients refused, a dead address;
//   2. healthcare: consumer webmail refused, a practice on Google Workspace
//      (known by its MX) and one on Yahoo's MX, a Direct address;
//   3. the milter: a From OpenDKIM would not sign, an HTML-only message;
//   4. the held mail released by rampd at the cap's rate;
//   5. the dead address learned from the bounce and refused on every stream;
//   6. a delivered message as the receiver saw it, streamguardctl report,
//      and /metrics.
// Every outcome is checked: the demo exits 1 naming what went otherwise
// (ctest runs it: `demo`). Everything it started is stopped at the end.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "demo/screen.hpp"
#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"
#include "tests/e2e/status_probe.hpp"

namespace sg::demo {
namespace {

using namespace std::chrono_literals;
using sg::e2e::Harness;
using sg::e2e::Submission;
using Clock = std::chrono::steady_clock;

int g_failures = 0;

// The story the demo tells must be what happened.
void expect(bool ok, const std::string& what) {
  if (ok) return;
  ++g_failures;
  std::cout << "   !! demo: expected " << what << "\n";
}

// A campaign message as Listmonk writes it: multipart/alternative (or HTML
// only), one-click unsubscribe, Message-ID on the sending domain.
std::string message(const std::string& from, const std::string& to, int n, bool text = true) {
  std::ostringstream m;
  m << "From: Dispatch News <" << from << ">\r\nTo: <" << to << ">\r\n"
    << "Subject: This week's loads\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
    << "Message-ID: <demo-" << n << "@send.example.com>\r\n"
    << "List-Unsubscribe: <https://send.example.com/u/" << n << ">\r\n"
    << "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n";
  if (!text) {
    m << "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Only HTML here.</p>\r\n";
  } else {
    m << "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      << "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis week's loads.\r\n"
      << "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>This week's loads.</p>\r\n"
      << "--b1--\r\n";
  }
  return m.str();
}

// One message per recipient, as Listmonk sends; the outcomes once Postfix
// has delivered what it will deliver now.
std::vector<Outcome> campaign(Harness& h, const std::string& stream,
                              const std::vector<std::string>& rcpts, int& n,
                              const std::string& from = Harness::kFrom, bool text = true) {
  std::vector<Submission> sent;
  for (const auto& r : rcpts)
    sent.push_back(h.submit_data(stream, {r}, message(from, r, ++n, text)));
  std::vector<Outcome> rows;
  sg::e2e::wait_until(
      [&] {
        rows.clear();
        for (const auto& s : sent)
          for (auto& o : outcomes(h, s)) rows.push_back(o);
        for (const auto& o : rows)
          if (o.state == "in the queue") return false;
        return true;
      },
      20s);
  return rows;
}

std::string state_of(const std::vector<Outcome>& rows, const std::string& address) {
  for (const auto& o : rows)
    if (o.address == address) return o.state;
  return "";
}

// The lines of a command's output, indented, at most `limit` of them.
void show_output(const std::string& out, std::size_t limit = 60) {
  std::istringstream lines(out);
  std::string line;
  for (std::size_t i = 0; std::getline(lines, line) && i < limit; ++i)
    std::cout << "     " << line << "\n";
}

// The /metrics lines of a daemon that start with one of the prefixes and
// are not zero.
void show_metrics(const std::string& name, const std::string& socket,
                  const std::vector<std::string>& prefixes) {
  std::cout << "   " << name << ":\n";
  std::istringstream page(sg::e2e::http_get_unix(socket, "/metrics"));
  std::string line;
  bool body = false;
  while (std::getline(page, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) body = true;
    if (!body || line.empty() || line[0] == '#' || line.ends_with(" 0")) continue;
    for (const auto& p : prefixes)
      if (line.starts_with(p)) {
        std::cout << "     " << line << "\n";
        break;
      }
  }
}

int run() {
  const auto started = Clock::now();
  sg::e2e::HarnessOptions o;
  o.milter = true;
  o.dns_records = {"--mx-host=gclinic.example,aspmx.l.google.com,1",
                   "--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1",
                   "--mx-host=riverside-clinic.example,mx.riverside-clinic.example,10",
                   "--local=/#/"};  // every other name: answered here (NXDOMAIN), never forwarded
  // 720 an hour, sent evenly: one message every 5 s, two at once at most.
  o.trucking = "hourly_cap = 720\nburst = 2\nover_cap = \"hold\"\ndaily_cap = 4000\n";
  o.healthcare = "daily_cap = 10000\nover_cap = \"hold\"\nmilter = { html_only = \"tempfail\" }\n";
  // Charged at END-OF-MESSAGE, as the example configuration does: mail the
  // milter refuses after DATA is not counted.
  o.policyd = "commit = \"end_of_message\"\n";
  // rampd looks at the hold queue every second.
  o.rampd = "drain_interval_s = 1\n";
  o.rules =
      "[[suppress]]\nname = \"user-unknown\"\nscope = \"address\"\nstatus = [\"bounced\"]\n"
      "dsn = [\"5.1.1\"]\nthreshold = 1\nttl_s = 31536000\n";
  heading("starting the pipeline on loopback",
          "A private Postfix with the two stream ports streamguardctl renders (trucking, a "
          "cautious consumer-ISP stream; healthcare, practice and clinic domains), OpenDKIM "
          "signing send.example.com then streamguard-milter as its milters, "
          "streamguard-policyd, streamguard-rampd, Redis, a private DNS server for the MX "
          "lookups, and one loopback SMTP server standing in for every receiving mail server.");
  Harness h(o);
  const std::string dead = "old.dispatcher@fleet-9.example";
  h.sink().answer_rcpt([dead](const std::string& rcpt) {
    return rcpt == dead ? "550 5.1.1 <" + dead + ">: Recipient address rejected: User unknown"
                        : std::string();
  });
  h.start_rampd();
  say("trucking on 127.0.0.1:" + std::to_string(h.port("trucking")) + ", healthcare on 127.0.0.1:" +
      std::to_string(h.port("healthcare")) + ". The configuration, as the daemons check it:");
  const auto check =
      sg::e2e::run_command({SG_POLICYD_BIN, "--config", h.config_path(), "--check-config"}, 30s);
  show_output(check.output, 40);
  expect(check.exit_code == 0, "--check-config to pass");
  int n = 0;

  heading("1. trucking: a campaign of 10 messages in one go",
          "Its hourly cap is 720, sent evenly: one message every 5 s, at most 2 at once. Mail "
          "over the cap is accepted (Listmonk counts it as sent) and held in Postfix's hold "
          "queue for rampd to release at the cap's rate.");
  std::vector<std::string> fleet;
  for (int i = 1; i <= 7; ++i) fleet.push_back("dispatch@fleet-" + std::to_string(i) + ".example");
  std::vector<std::string> trucking = {dead};
  trucking.insert(trucking.end(), fleet.begin(), fleet.end());
  trucking.push_back("someone@yahoo.com");
  trucking.push_back("owner@attbi.com");
  auto rows = campaign(h, "trucking", trucking, n);
  print(rows);
  expect(state_of(rows, "someone@yahoo.com") == "refused", "someone@yahoo.com refused");
  expect(state_of(rows, "owner@attbi.com") == "refused", "owner@attbi.com refused (dead ISP)");
  expect(state_of(rows, dead) == "bounced", dead + " bounced by the receiving server");
  int held = 0;
  for (const auto& r : rows) held += r.state == "held";
  expect(held >= 4, "most of the burst held (" + std::to_string(held) + " held)");

  heading("2. healthcare: run hot, never to consumer webmail",
          "A custom domain's mailbox provider is known by its MX hosts: gclinic.example is on "
          "Google Workspace, yclinic.example on Yahoo's servers.");
  const std::vector<std::string> clinics = {
      "dr.smith@riverside-clinic.example", "dr.lee@gclinic.example", "someone@gmail.com",
      "owner@yclinic.example", "intake@direct.valley-clinic.example"};
  rows = campaign(h, "healthcare", clinics, n);
  print(rows);
  expect(state_of(rows, "dr.smith@riverside-clinic.example") == "delivered", "dr.smith delivered");
  expect(state_of(rows, "dr.lee@gclinic.example") == "delivered", "dr.lee delivered");
  for (const auto* a :
       {"someone@gmail.com", "owner@yclinic.example", "intake@direct.valley-clinic.example"})
    expect(state_of(rows, a) == "refused", std::string(a) + " refused");
  say("Why dr.lee@gclinic.example counts as google (streamguardctl explain, charging nothing):");
  auto ex = sg::e2e::run_command({SG_CTL_BIN, "explain", "--config", h.config_path(), "--port",
                                  std::to_string(h.port("healthcare")), "--recipient",
                                  "dr.lee@gclinic.example", "--dns", h.dns()->address()},
                                 30s);
  show_output(ex.output, 14);
  expect(ex.output.find("google") != std::string::npos, "explain to name google");

  heading("3. the milter: nothing leaves unsigned, HTML-only refused on healthcare",
          "A message whose From domain OpenDKIM has no key for would leave without a DKIM "
          "signature: refused with the reason instead. healthcare sets html_only = "
          "\"tempfail\" (trucking only warns). policyd counted both at END-OF-MESSAGE, "
          "before the milter's verdict; rampd gives those charges back when the log shows "
          "the refusal (streamguard_rampd_refunded_messages_total below).");
  rows =
      campaign(h, "healthcare", {"dr.patel@riverside-clinic.example"}, n, "news@other.example.org");
  print(rows, "(From: news@other.example.org)");
  expect(state_of(rows, "dr.patel@riverside-clinic.example") == "refused", "the unsigned refused");
  rows = campaign(h, "healthcare", {"dr.jones@riverside-clinic.example"}, n, Harness::kFrom, false);
  print(rows, "(HTML only)");
  expect(state_of(rows, "dr.jones@riverside-clinic.example") == "refused", "HTML-only refused");

  heading("4. the held trucking mail, released by rampd at the cap's rate",
          "rampd charges each release to the caps first, oldest first; one every 5 s.");
  const auto drain_start = Clock::now();
  std::size_t last = 0;
  std::vector<std::string> delivered;
  sg::e2e::wait_until(
      [&] {
        std::size_t now = 0;
        for (const auto& a : fleet)
          if (!h.sink().messages_to(a).empty()) {
            ++now;
            if (std::find(delivered.begin(), delivered.end(), a) == delivered.end()) {
              delivered.push_back(a);
              if (delivered.size() > static_cast<std::size_t>(fleet.size() - held)) {
                const double s = std::chrono::duration<double>(Clock::now() - drain_start).count();
                std::printf("   +%5.1fs  %-32s released and delivered\n", s, a.c_str());
                std::fflush(stdout);
              }
            }
          }
        last = now;
        return now == fleet.size();
      },
      90s);
  expect(last == fleet.size(), "every held message delivered (" + std::to_string(last) + " of " +
                                   std::to_string(fleet.size()) + ")");
  // A drain round that found the hold queue empty: rampd's /status (and the
  // report) no longer counts the last message released.
  sg::e2e::wait_drain_rounds(h.rampd_status_socket(), 2, 10s);

  heading("5. the dead address, learned from the real bounce",
          "The receiving server answered 550 5.1.1 for " + dead +
              "; rampd read it in Postfix's log and suppressed the address on every stream.");
  sg::e2e::wait_until([&] { return h.rampd_log().find("suppressed address") != std::string::npos; },
                      30s);
  rows = campaign(h, "healthcare", {dead}, n);
  print(rows, "(on healthcare)");
  expect(state_of(rows, dead) == "refused", dead + " refused as suppressed");

  heading("6. what the receiver saw, the day's report, and /metrics");
  const auto got = h.sink().messages_to("dr.smith@riverside-clinic.example");
  if (!got.empty()) {
    const auto& m = got.front();
    say("dr.smith's message arrived from " + m.helo + " (healthcare's transport), " +
        (m.data.find("DKIM-Signature:") != std::string::npos ? "DKIM-signed" : "NOT signed") +
        ", with " +
        (m.data.find("X-Streamguard-Stream") == std::string::npos
             ? "streamguard's stream tag removed as it left."
             : "the stream tag still in it."));
    expect(m.data.find("DKIM-Signature:") != std::string::npos, "a DKIM signature");
  }
  std::cout << "\n   streamguardctl report --config " << h.config_path() << "\n";
  show_output(
      sg::e2e::run_command({SG_CTL_BIN, "report", "--config", h.config_path()}, 30s).output);
  std::cout << "\n";
  show_metrics("streamguard-policyd /metrics (not zero)", h.policyd_status_socket(),
               {"streamguard_policy_requests_total", "streamguard_suppressed"});
  show_metrics("streamguard-milter", h.milter_status_socket(),
               {"streamguard_milter_messages_total", "streamguard_milter_dkim_refusals_total"});
  const std::string refunded = "streamguard_rampd_refunded_messages_total{stream=\"healthcare\"}";
  expect(sg::e2e::wait_until(
             [&] { return sg::e2e::read_metric(h.rampd_status_socket(), refunded) == 2; }, 10s),
         "rampd to give back the charges of the two refused messages");
  show_metrics("streamguard-rampd", h.rampd_status_socket(),
               {"streamguard_rampd_released_total", "streamguard_rampd_refunded"});

  const double took = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf(
      "\ndemo done in %.0f s: %s; everything it started is stopped.\n", took,
      g_failures ? "SOMETHING WENT OTHERWISE (the !! lines above)" : "every outcome as told");
  return g_failures ? 1 : 0;
}

}  // namespace
}  // namespace sg::demo

int main() {
  if (::geteuid() != 0) {
    std::cerr
        << "streamguard-demo: run as root: it starts its own Postfix (postfix -c DIR start)\n";
    return 2;
  }
  try {
    return sg::demo::run();
  } catch (const std::exception& e) {
    std::cerr << "streamguard-demo: " << e.what() << "\n";
    return 1;
  }
}
