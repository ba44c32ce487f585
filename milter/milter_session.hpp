// One SMTP connection as streamguard-milter sees it: a pure state machine fed
// with the milter events (connect, MAIL FROM, each header, body chunks, end
// of message, abort), no libmilter, no I/O. At end of message it returns what
// to tell Postfix and why; milter_app.cpp turns that into libmilter calls.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "formats/hygiene.hpp"
#include "formats/opendkim.hpp"

namespace sg {

// What one message is checked against: the config and OpenDKIM's own
// configuration as last read. Immutable; a reload swaps a new one in, and a
// connection keeps the one it began with.
struct MilterRuntime {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const dkim::OpenDkimConfig> opendkim;  // null: not read (see opendkim_error)
  std::string opendkim_error;                            // why it could not be read
};

enum class MilterVerdict { accept, tempfail, reject };
const char* to_string(MilterVerdict v);

// One check that found something.
struct CheckFinding {
  std::string check;  // "dkim", "message_id", "html_only", "unsubscribe", "from_domain", "stream"
  CheckAction action = CheckAction::warn;
  std::string reason;  // for a person: names the client, the domain, the table
  std::string kind;    // a short label for metrics, e.g. "not_internal"
};

struct MessageDecision {
  MilterVerdict verdict = MilterVerdict::accept;
  // A stream in shadow mode: what the verdict would have been (`verdict`
  // is then accept and the message is tagged as usual); accept otherwise.
  MilterVerdict would = MilterVerdict::accept;
  std::string rcode, xcode, text;  // the SMTP reply when not accepted
  std::vector<CheckFinding> findings;
  std::vector<std::pair<std::string, std::string>> add_headers;  // when accepted
  std::string stream;  // "" when the connection has no stream
  std::string from_domain;
};

// The most severe finding decides (reject > tempfail > warn); its reason is
// the reply text. Pure.
MessageDecision decide_message(std::vector<CheckFinding> findings);

class MilterSession {
 public:
  explicit MilterSession(std::shared_ptr<const MilterRuntime> runtime);

  // client_addr: the client's IP as text; daemon_port/daemon_name: Postfix's
  // {daemon_port} / {daemon_name} macros ("" when Postfix did not send them).
  void connect(std::string_view client_addr, std::string_view client_name,
               std::string_view daemon_port, std::string_view daemon_name);
  void mail_from(std::string_view sender, bool authenticated);
  void header(std::string_view name, std::string_view value);
  void end_of_headers();
  void body(std::string_view chunk);
  MessageDecision end_of_message();
  // The message ended without end_of_message (RSET, QUIT, a refusal):
  // forget it; the connection goes on.
  void abort();

  const StreamConfig* stream() const { return stream_; }
  const std::string& client_addr() const { return client_addr_; }
  const MilterRuntime& runtime() const { return *runtime_; }

 private:
  std::vector<CheckFinding> dkim_findings(const hygiene::Findings& f) const;
  std::vector<CheckFinding> hygiene_findings(const hygiene::Findings& f) const;

  std::shared_ptr<const MilterRuntime> runtime_;
  const StreamConfig* stream_ = nullptr;
  std::string client_addr_, client_name_, daemon_port_, daemon_name_;
  bool authenticated_ = false;
  std::optional<hygiene::MessageScanner> scanner_;
};

}  // namespace sg
