#include "demo/screen.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace sg::demo {

void say(const std::string& text, int indent) {
  std::istringstream words(text);
  std::string word, line;
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  while (words >> word) {
    if (!line.empty() && pad.size() + line.size() + 1 + word.size() > 78) {
      std::cout << pad << line << "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) std::cout << pad << line << "\n";
}

void heading(const std::string& title, const std::string& explanation) {
  std::cout << "\n== " << title << "\n";
  if (!explanation.empty()) say(explanation);
  std::cout.flush();
}

std::string reason_of(const std::string& reply) {
  std::string r = reply;
  if (const auto at = r.find("Recipient address rejected: "); at != std::string::npos)
    r = r.substr(at + 28);
  else if (const auto sp = r.find(' '); sp != std::string::npos && r.size() > 4)
    r = r.substr(0, 3) + r.substr(sp);  // "451 4.7.0 ..." stays whole
  return r;
}

namespace {

// policyd's HOLD reason for a held recipient, from Postfix's log line
// "NOQUEUE: hold: RCPT from ...: <addr>: Recipient address streamguard:
// ...; from=<...>" (Postfix logs it before the queue id exists), or "".
std::string hold_reason(sg::e2e::Harness& h, const std::string& address) {
  for (const auto& line : h.postfix().log_lines({"hold: RCPT", "<" + address + ">"})) {
    const auto at = line.find("streamguard:");
    if (at == std::string::npos) continue;
    auto text = line.substr(at);
    if (const auto end = text.find("; from=<"); end != std::string::npos) text.resize(end);
    return text;
  }
  return "";
}

// A recipient that left the queue without reaching the sink: bounced, with
// the receiver's words from Postfix's log ("... said: 550 5.1.1 ...").
void bounce(sg::e2e::Harness& h, const std::string& address, Outcome& o) {
  for (const auto& line : h.postfix().log_lines({"to=<" + address + ">", "status=bounced"})) {
    o.state = "bounced";
    const auto at = line.find("said: ");
    o.reason = "the receiving server " + (at == std::string::npos ? line : line.substr(at));
    if (const auto end = o.reason.find(" (in reply to"); end != std::string::npos)
      o.reason.resize(end);
  }
}

}  // namespace

std::vector<Outcome> outcomes(sg::e2e::Harness& h, const sg::e2e::Submission& s) {
  std::vector<Outcome> rows;
  const auto queue = h.postfix().queue();
  for (const auto& r : s.rcpts) {
    Outcome o{r.address, "", ""};
    if (!s.accepted(r.address)) {
      o.state = "refused";
      o.reason = reason_of(r.reply);
    } else if (s.queue_id.empty()) {
      // Accepted at RCPT, refused after DATA (the milter): the last reply.
      o.state = "refused";
      const auto at = s.transcript.rfind("<** ");
      o.reason = at == std::string::npos
                     ? "refused after DATA"
                     : reason_of(s.transcript.substr(at + 4, s.transcript.find('\n', at) - at - 4));
    } else if (!h.sink().messages_to(r.address).empty()) {
      o.state = "delivered";
    } else {
      o.state = "in the queue";
      bool queued = false;
      for (const auto& e : queue)
        if (e.queue_id == s.queue_id) {
          queued = true;
          if (e.queue_name == "hold") {
            o.state = "held";
            o.reason = hold_reason(h, r.address);
          }
        }
      if (!queued) bounce(h, r.address, o);
    }
    rows.push_back(o);
  }
  return rows;
}

void print(const std::vector<Outcome>& rows, const std::string& note) {
  std::string previous;
  for (const auto& o : rows) {
    // The reason once for a run of recipients with the same one.
    const bool same = !o.reason.empty() && o.reason == previous;
    std::printf("   %-38s %s%s%s\n", o.address.c_str(), o.state.c_str(),
                same ? " (the same reason)" : "", note.empty() ? "" : ("  " + note).c_str());
    if (!o.reason.empty() && !same) say(o.reason, 8);
    previous = o.reason;
  }
  std::cout.flush();
}

}  // namespace sg::demo
