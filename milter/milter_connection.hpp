// One milter connection of the Asio engine, without I/O: the packets Postfix
// sent in, the reply bytes out, driving a MilterSession exactly as the
// libmilter engine's callbacks (milter_app.cpp) do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "formats/milter_protocol.hpp"
#include "milter/milter_daemon.hpp"

namespace sg {

// One milter connection without I/O: packets in, reply bytes out, driving a
// MilterSession exactly as libmilter's callbacks in milter_app.cpp do.
class MilterConnection {
 public:
  explicit MilterConnection(MilterDaemon& d) : d_(d) {}
  ~MilterConnection();
  MilterConnection(const MilterConnection&) = delete;
  MilterConnection& operator=(const MilterConnection&) = delete;

  // Handles one packet, appending any reply to `out`. False: close the
  // connection (QUIT, or a protocol violation, logged).
  bool handle(const milter_proto::Packet& p, std::string& out);

 private:
  // Option negotiation: our reply; false for an MTA too old to serve.
  bool negotiate(const milter_proto::OptNeg& c, std::string& out);
  void reply_unless(uint32_t no_reply_bit, std::string& out) const;
  void end_of_message(std::string& out);
  MacroLookup lookup() const;

  MilterDaemon& d_;
  milter_proto::MacroStore macros_;
  std::unique_ptr<MilterSession> session_;
  uint32_t no_reply_ = 0;
};

// The client address Postfix sent in a connect packet, as libmilter would
// render it (inet_ntop of the parsed address); "" when there is none.
std::string connect_address(const milter_proto::Connect& c);

}  // namespace sg
