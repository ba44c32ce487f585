// OpenDKIM's sign-or-verify decision, predicted from OpenDKIM's own
// configuration (brief rule 6: for two weeks OpenDKIM *verified* the bulk
// sender's mail instead of signing it because the Docker clients were not in
// InternalHosts), and the end-of-message check that a DKIM-Signature aligned
// with the From domain is really there. Pure code: the only I/O is reading
// opendkim.conf and the data set files it names.
//
// What is modelled (opendkim(8) OPERATION, opendkim.conf(5)); a message is
// signed when ALL of:
//   - the client is not in PeerList (those connections are not processed);
//   - Mode contains "s" (default "sv");
//   - the client authenticated ({auth_type} set), OR is in InternalHosts (by
//     IP or by hostname; default 127.0.0.1 and ::1), OR connected to a daemon
//     named in MTA ({daemon_name}), OR a MacroList macro matches;
//   - the From address has a key: with a KeyTable, a SigningTable entry whose
//     key name is in the KeyTable (d= is the KeyTable domain, "%" = the From
//     domain); without one, the From domain is in Domain (or, with SubDomains,
//     a parent of it is) and KeyFile and Selector are set.
// ExternalIgnoreList is read and validated but does not change the decision:
// per opendkim.conf(5) it only silences the "external host tried to send mail
// as" log line.
//
// Host lists (InternalHosts, PeerList, ExternalIgnoreList) match as OpenDKIM
// does: the most specific entry wins (the exact address, then /32../0 or
// /128../0; the full hostname, then each ".parent" suffix), and at the same
// level a "!" entry wins over a plain one. OpenDKIM looks the client's masked
// address up as TEXT, so a CIDR with host bits set ("172.18.0.0/12") or an
// IPv6 address not in canonical lowercase form never matches there; such
// entries are load errors here, naming the form that would work.
//
// Data sets (opendkim(8) DATA SETS): "file:/path" or "/path" (flat file: key
// to the first whitespace, value after it, '#' comments), "refile:/path"
// (same, keys are patterns where '*' matches any run of characters, tried in
// file order), "csl:a,b,c" and any other string (a comma-separated list,
// "k=v" elements are key/value). Note that a relative path without "file:" is
// a one-element csl in OpenDKIM too. db:, dsn:, ldap:, lua:, memcache:,
// erlang:, mdb: and "*.db" are refused. Keys compare case-insensitively.
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sg::dkim {

struct Error {
  std::string file;
  int line = 0;  // 0: the whole file
  std::string message;
  // "file:line: message" ("file: message" without a line).
  std::string str() const;
};

enum class DatasetKind { kFile, kRefile, kCsl };

struct DatasetEntry {
  std::string key;    // as written ("!" kept), trimmed
  std::string value;  // the rest of the line (file) or after '=' (csl), trimmed
  std::string file;   // where it was written
  int line = 0;
};

class Dataset {
 public:
  DatasetKind kind = DatasetKind::kCsl;
  std::string spec;  // as written in opendkim.conf: "refile:/etc/opendkim/signing.table"
  std::string path;  // the file read (file, refile); empty for csl
  std::vector<DatasetEntry> entries;

  // The first entry whose key equals `key` (case-insensitive), or for refile
  // the first whose pattern matches it. nullptr when none.
  const DatasetEntry* find(std::string_view key) const;
  // Builds the exact-match index; the parsers call it.
  void index();
  // Whether some key may be a CIDR of this prefix length ("net/N"): match_host
  // builds only those keys of a client's address. Always true for refile.
  bool may_hold_prefix(int bits) const;

 private:
  std::unordered_map<std::string, std::size_t> index_;  // lowercase key -> first entry
  std::bitset<129> prefixes_;  // the N of every key ending in "/N", N <= 128
};

// Parses a data set's text. `kind` kFile and kRefile read `text` as a flat
// file named `file_name` (lines numbered from 1); kCsl reads `text` as the
// comma-separated list itself, every element at (file_name, line).
Dataset parse_dataset(std::string_view text, DatasetKind kind, const std::string& file_name,
                      std::vector<Error>& errors, int line = 0);

// parse_dataset, then checks every entry is a host list entry (IPv4/IPv6
// address, CIDR, optionally in [brackets], hostname, ".domain", each with an
// optional leading "!"). Refile patterns are not checked.
Dataset parse_host_list(std::string_view text, DatasetKind kind, const std::string& file_name,
                        std::vector<Error>& errors, int line = 0);

struct HostMatch {
  bool matched = false;
  const DatasetEntry* entry = nullptr;  // the deciding entry (a "!" one when excluded)
};
// OpenDKIM's peer-list test: the IP (v4 or v6 text) first, then the hostname
// ("" and "unknown" are skipped); matched if either matches.
HostMatch match_host(const Dataset& list, std::string_view ip, std::string_view hostname);

// '*' matches any run of characters (also none); everything else literally,
// ASCII case-insensitively.
bool wildcard_match(std::string_view pattern, std::string_view text);

// One "Name value" line of opendkim.conf.
struct ConfSetting {
  std::string name;  // as written
  std::string value;
  std::string file;
  int line = 0;
};
// Splits opendkim.conf text into settings ('#' truncates a line, blank lines
// are skipped; a name without a value is an error). Include is not followed.
std::vector<ConfSetting> parse_conf(std::string_view text, const std::string& file_name,
                                    std::vector<Error>& errors);

struct KeyRef {
  std::string name;      // KeyTable key name
  std::string domain;    // d= ("%" = the From domain)
  std::string selector;  // s=
  std::string key_file;
  const DatasetEntry* key_entry = nullptr;
};

struct OpenDkimConfig {
  std::string conf_path;
  std::vector<std::string> files;  // every file read: conf, Includes, data sets

  std::string mode = "sv";
  bool sign = true;
  bool verify = true;
  bool subdomains = false;

  std::optional<Dataset> domain;  // Domain (ignored when a KeyTable is set)
  std::string selector;
  std::string key_file;
  std::optional<Dataset> signing_table;
  std::optional<Dataset> key_table;

  Dataset internal_hosts;  // InternalHosts, or the default (spec names it)
  bool internal_hosts_default = true;
  std::optional<Dataset> external_ignore_list;
  std::optional<Dataset> peer_list;
  std::optional<Dataset> mta;         // MTA: daemon names whose mail is signed
  std::optional<Dataset> macro_list;  // MacroList: "name" or "name=v1|v2"
};

struct LoadResult {
  std::shared_ptr<const OpenDkimConfig> config;  // null when errors is not empty
  std::vector<Error> errors;
  std::vector<Error> warnings;     // not fatal (e.g. a setting given twice)
  std::vector<std::string> files;  // every file read or tried, also on errors
};

// Reads a file: the text, or nullopt with `error` set (e.g. strerror(errno)).
using FileReader =
    std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

// Reads opendkim.conf and every data set it names. Unknown settings are
// ignored; Include is followed (five levels, as OpenDKIM); relative data set
// paths are taken from BaseDirectory when it is set.
LoadResult load_opendkim(const std::string& conf_path);
LoadResult load_opendkim(const std::string& conf_path, const FileReader& read);

struct ClientInfo {
  std::string ip;                             // "172.18.0.25", "2001:db8::1"
  std::string hostname;                       // may be empty or "unknown"
  bool authenticated = false;                 // SASL: {auth_type} set
  std::string daemon_name;                    // {daemon_name}, for MTA; empty if unknown
  std::map<std::string, std::string> macros;  // for MacroList ("{name}" or "name")
};

// The first condition not met when OpenDKIM would not sign: a code for
// metrics and scripts, where `reason` is for a person.
enum class Unsigned {
  none,              // it will sign
  peer_list,         // the client is in PeerList: OpenDKIM skips its mail
  verify_only,       // Mode has no "s"
  not_internal,      // not authenticated, not in InternalHosts, MTA or MacroList
  no_from_domain,    // the From address has no domain
  no_signing_entry,  // no SigningTable (or no entry in it) for the From domain
  not_in_domain,     // Domain mode: the From domain is not in Domain
  no_key,            // no key to sign with (not in KeyTable, no KeyFile/Selector...)
};

// "not_internal", "no_signing_entry", ...: the enumerator's name.
const char* unsigned_code(Unsigned u);

struct Prediction {
  bool will_sign = false;
  Unsigned first_lack = Unsigned::none;
  std::string signing_domain;  // d= when will_sign
  std::string selector;        // s= when will_sign
  std::string key_name;        // KeyTable key (empty in Domain/KeyFile mode)
  // For a person. When will_sign is false it names every condition that is
  // not met, joined with "; ".
  std::string reason;
};

// `from_address`: "user@example.com", "<user@example.com>" or
// "Name <user@example.com>".
Prediction predict_signing(const OpenDkimConfig& config, const ClientInfo& client,
                           std::string_view from_address);

struct DkimSignature {
  std::string d;                            // signing domain, as written
  std::string s;                            // selector
  std::string i;                            // optional
  std::string a;                            // optional
  std::string v;                            // optional
  std::map<std::string, std::string> tags;  // every tag; folding whitespace removed
};

// Parses a DKIM-Signature header field value (RFC 6376 3.2 tag-list: tag names
// are case-sensitive, FWS around tags, '=' and inside values is allowed and
// removed). nullopt when the tag-list is malformed, a tag appears twice, or
// d= or s= is missing or empty.
std::optional<DkimSignature> parse_dkim_signature(std::string_view header_value);

// Relaxed DMARC alignment, approximated without a public suffix list: the two
// domains are equal, or one is a subdomain of the other and the shorter has at
// least two labels (case-insensitive, a trailing dot ignored). Wrong only for
// a shorter domain that is itself a public suffix of two labels ("co.uk"),
// which no one signs with.
bool aligned(std::string_view d, std::string_view from_domain);

// "Name <User@Sub.Example.COM>" -> "sub.example.com"; "" when there is none.
std::string from_domain(std::string_view from_address);

}  // namespace sg::dkim
