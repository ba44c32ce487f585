// The milter wire protocol as Postfix speaks it (version 6), without I/O:
// an incremental packet splitter, the decoding of the commands Postfix sends
// and the encoding of the replies streamguard-milter gives.
//
// A packet is a 4-byte big-endian length, then that many bytes: one command
// byte and its data. Strings in the data are NUL-terminated. The constants
// are the protocol's (libmilter's mfdef.h / mfapi.h); they are repeated here
// so that this file needs no libmilter header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sg::milter_proto {

// ---------------------------------------------------------------- protocol constants

constexpr uint32_t kVersion = 6;  // the protocol version we speak (SMFI_PROT_VERSION)

// Commands (MTA to milter).
constexpr char kOptNeg = 'O', kMacro = 'D', kConnect = 'C', kHelo = 'H', kMail = 'M', kRcpt = 'R',
               kData = 'T', kHeader = 'L', kEndOfHeaders = 'N', kBody = 'B', kEndOfBody = 'E',
               kAbort = 'A', kQuit = 'Q', kQuitNewConnection = 'K', kUnknown = 'U';

// Replies (milter to MTA).
constexpr char kContinue = 'c', kAccept = 'a', kTempfail = 't', kReject = 'r', kReplyCode = 'y',
               kAddHeader = 'h';

// Connect address families.
constexpr char kFamilyUnknown = 'U', kFamilyUnix = 'L', kFamilyInet = '4', kFamilyInet6 = '6';

// Actions the milter may take (SMFIF_*).
constexpr uint32_t kActAddHeaders = 0x01;

// Protocol flags (SMFIP_*): steps the MTA need not send, replies it need not wait for.
constexpr uint32_t kNoConnect = 0x1, kNoHelo = 0x2, kNoMail = 0x4, kNoRcpt = 0x8, kNoBody = 0x10,
                   kNoHeaders = 0x20, kNoEndOfHeaders = 0x40, kNoReplyHeader = 0x80,
                   kNoUnknown = 0x100, kNoData = 0x200, kNoReplyConnect = 0x1000,
                   kNoReplyHelo = 0x2000, kNoReplyMail = 0x4000, kNoReplyRcpt = 0x8000,
                   kNoReplyData = 0x10000, kNoReplyUnknown = 0x20000,
                   kNoReplyEndOfHeaders = 0x40000, kNoReplyBody = 0x80000;

// Macro stages for the symbol lists of the OPTNEG reply (SMFIM_*).
constexpr uint32_t kStageConnect = 0, kStageHelo = 1, kStageMail = 2, kStageRcpt = 3,
                   kStageData = 4, kStageEndOfMessage = 5, kStageEndOfHeaders = 6;

// The largest packet (command byte + data) accepted: Postfix sends body
// chunks of at most 64 KiB; a header is bounded by header_size_limit
// (100 KiB by default). 1 MiB leaves room for any MTA setting.
constexpr std::size_t kMaxPacket = 1024 * 1024 + 4096;

// ---------------------------------------------------------------- splitting

struct Packet {
  char command = 0;
  std::string_view data;  // valid until the next append() or next()
};

enum class SplitStatus { need_more, packet, error };

// Splits a byte stream into packets. Append what was read, then call next()
// until it says need_more. An error (a length of 0 or over kMaxPacket) is
// sticky: the stream cannot be resynchronised.
class Splitter {
 public:
  void append(std::string_view bytes);
  SplitStatus next(Packet& out);
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------- decoding

struct OptNeg {
  uint32_t version = 0, actions = 0, protocol = 0;
};
struct Macros {
  char command = 0;  // the command these macros go with
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
};
struct Connect {
  std::string_view hostname;
  char family = kFamilyUnknown;
  uint16_t port = 0;
  std::string_view address;  // IP text, or the socket path for kFamilyUnix
};
struct Helo {
  std::string_view name;
};
struct Mail {
  std::vector<std::string_view> args;  // args[0] is the sender, <...>
};
struct Rcpt {
  std::vector<std::string_view> args;
};
struct DataCmd {};
struct Header {
  std::string_view name, value;
};
struct EndOfHeaders {};
struct Body {
  std::string_view chunk;
};
struct EndOfBody {
  std::string_view chunk;  // a last chunk, usually empty
};
struct Abort {};
struct Quit {};
struct QuitNewConnection {};
struct Unknown {
  std::string_view command;
};

using Command =
    std::variant<OptNeg, Macros, Connect, Helo, Mail, Rcpt, DataCmd, Header, EndOfHeaders, Body,
                 EndOfBody, Abort, Quit, QuitNewConnection, Unknown>;

// Decodes one packet; nullopt with `error` set when it is malformed or the
// command is not one of the above. The views point into packet.data.
std::optional<Command> decode(const Packet& packet, std::string& error);

// The macros Postfix defined, by the command they came with. A new set for a
// command replaces the old one; end of message and abort forget the
// message's (all but connect and HELO). Names match with or without braces:
// "i" finds "{i}" and "{daemon_port}" finds "daemon_port".
class MacroStore {
 public:
  void define(const Macros& m);
  std::string get(std::string_view name) const;  // "" when not defined
  void forget_message();
  void clear() { sets_.clear(); }

 private:
  std::vector<std::pair<char, std::vector<std::pair<std::string, std::string>>>> sets_;
};

// ---------------------------------------------------------------- encoding

// Appends one packet (length, command, data) to out.
void append_packet(std::string& out, char command, std::string_view data = {});

// The OPTNEG reply: version, actions, protocol flags, then for each
// (stage, "name name ...") the stage as a 32-bit number and the
// NUL-terminated list (what libmilter's smfi_setsymlist sends).
void append_optneg_reply(std::string& out, const OptNeg& reply,
                         const std::vector<std::pair<uint32_t, std::string>>& symbol_lists);
// SMFIR_REPLYCODE: "rcode xcode text", NUL-terminated.
void append_reply_code(std::string& out, std::string_view rcode, std::string_view xcode,
                       std::string_view text);
// SMFIR_ADDHEADER: name and value, each NUL-terminated.
void append_add_header(std::string& out, std::string_view name, std::string_view value);

}  // namespace sg::milter_proto
