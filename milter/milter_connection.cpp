#include "milter/milter_connection.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <variant>

namespace sg {

namespace mp = milter_proto;

std::string connect_address(const mp::Connect& c) {
  const std::string text(c.address);
  char out[INET6_ADDRSTRLEN] = {};
  if (c.family == mp::kFamilyInet) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) == 1) ::inet_ntop(AF_INET, &a, out, sizeof out);
  } else if (c.family == mp::kFamilyInet6) {
    std::string_view v6 = text;
    if (v6.size() > 5 && (v6.substr(0, 5) == "IPv6:" || v6.substr(0, 5) == "ipv6:"))
      v6.remove_prefix(5);
    in6_addr a{};
    if (::inet_pton(AF_INET6, std::string(v6).c_str(), &a) == 1)
      ::inet_ntop(AF_INET6, &a, out, sizeof out);
  }
  return out;
}

MilterConnection::~MilterConnection() {
  close_session(d_, session_);
}

MacroLookup MilterConnection::lookup() const {
  return [this](const char* name) { return macros_.get(name); };
}

void MilterConnection::reply_unless(uint32_t no_reply_bit, std::string& out) const {
  if (!(no_reply_ & no_reply_bit)) mp::append_packet(out, mp::kContinue);
}

void MilterConnection::end_of_message(std::string& out) {
  if (!session_) {
    mp::append_packet(out, mp::kTempfail);
  } else {
    auto d = finish_message(d_, *session_, lookup());
    if (d.verdict == MilterVerdict::accept) {
      for (const auto& [name, value] : d.add_headers) mp::append_add_header(out, name, value);
      mp::append_packet(out, mp::kContinue);
    } else {
      mp::append_reply_code(out, d.rcode, d.xcode, reply_text(d));
    }
  }
  macros_.forget_message();
}

bool MilterConnection::negotiate(const mp::OptNeg& c, std::string& out) {
  if (c.version < 2) {
    spdlog::warn("milter protocol violation: MTA protocol version {}; closing", c.version);
    return false;
  }
  const auto n = negotiate_milter(c.actions, c.protocol);
  no_reply_ = n.no_reply;
  const uint32_t version = std::min(c.version, mp::kVersion);
  std::vector<std::pair<uint32_t, std::string>> lists;
  if (version >= 6) lists = {{mp::kStageConnect, kConnectMacros}, {mp::kStageMail, kMailMacros}};
  mp::append_optneg_reply(out, {version, n.actions, n.protocol}, lists);
  return true;
}

bool MilterConnection::handle(const mp::Packet& p, std::string& out) {
  std::string error;
  auto cmd = mp::decode(p, error);
  if (!cmd) {
    spdlog::warn("milter protocol violation: {}; closing the connection", error);
    return false;
  }
  bool go_on = true;
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, mp::OptNeg>) {
          go_on = negotiate(c, out);
        } else if constexpr (std::is_same_v<T, mp::Macros>) {
          macros_.define(c);
        } else if constexpr (std::is_same_v<T, mp::Connect>) {
          close_session(d_, session_);
          session_ = open_session(d_, connect_address(c), c.hostname, lookup());
          reply_unless(mp::kNoReplyConnect, out);
        } else if constexpr (std::is_same_v<T, mp::Helo>) {
          reply_unless(mp::kNoReplyHelo, out);
        } else if constexpr (std::is_same_v<T, mp::Mail>) {
          if (session_) session_mail_from(*session_, c.args.front(), lookup());
          reply_unless(mp::kNoReplyMail, out);
        } else if constexpr (std::is_same_v<T, mp::Rcpt>) {
          reply_unless(mp::kNoReplyRcpt, out);
        } else if constexpr (std::is_same_v<T, mp::DataCmd>) {
          reply_unless(mp::kNoReplyData, out);
        } else if constexpr (std::is_same_v<T, mp::Unknown>) {
          reply_unless(mp::kNoReplyUnknown, out);
        } else if constexpr (std::is_same_v<T, mp::Header>) {
          if (session_) session_->header(c.name, c.value);
          reply_unless(mp::kNoReplyHeader, out);
        } else if constexpr (std::is_same_v<T, mp::EndOfHeaders>) {
          if (session_) session_->end_of_headers();
          reply_unless(mp::kNoReplyEndOfHeaders, out);
        } else if constexpr (std::is_same_v<T, mp::Body>) {
          if (session_) session_->body(c.chunk);
          reply_unless(mp::kNoReplyBody, out);
        } else if constexpr (std::is_same_v<T, mp::EndOfBody>) {
          if (session_ && !c.chunk.empty()) session_->body(c.chunk);
          end_of_message(out);
        } else if constexpr (std::is_same_v<T, mp::Abort>) {
          if (session_) session_->abort();  // no reply: the MTA waits for none
          macros_.forget_message();
        } else if constexpr (std::is_same_v<T, mp::QuitNewConnection>) {
          close_session(d_, session_);  // a new SMTP connection follows on this one
          macros_.clear();
        } else {
          static_assert(std::is_same_v<T, mp::Quit>);
          go_on = false;
        }
      },
      *cmd);
  return go_on;
}

}  // namespace sg
