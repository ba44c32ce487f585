// Endpoints, Redis URLs and Redis key names.
#include "common/endpoint.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/redis_url.hpp"
#include "rules/limiter_keys.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- parse_endpoint

Endpoint ok_endpoint(std::string_view text) {
  std::string err;
  auto ep = parse_endpoint(text, err);
  EXPECT_TRUE(ep.has_value()) << text << ": " << err;
  EXPECT_EQ(err, "") << text;
  return ep.value_or(Endpoint{});
}

std::string endpoint_error(std::string_view text) {
  std::string err;
  auto ep = parse_endpoint(text, err);
  EXPECT_FALSE(ep.has_value()) << text << " parsed as " << (ep ? ep->to_string() : "");
  return err;
}

TEST(Endpoint, UnixSocket) {
  auto ep = ok_endpoint("unix:/var/spool/postfix/private/streamguard");
  EXPECT_EQ(ep.kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(ep.path, "/var/spool/postfix/private/streamguard");
  EXPECT_EQ(ep.host, "");
  EXPECT_EQ(ep.port, 0);
  EXPECT_EQ(ep.to_string(), "unix:/var/spool/postfix/private/streamguard");
  EXPECT_TRUE(ep.is_loopback());
}

TEST(Endpoint, UnixSocketPathMustBeAbsolute) {
  EXPECT_EQ(endpoint_error("unix:private/streamguard"),
            "unix socket path must be absolute: 'unix:private/streamguard'");
  EXPECT_EQ(endpoint_error("unix:"), "unix socket path must be absolute: 'unix:'");
}

TEST(Endpoint, UnixSocketPathLengthLimit) {
  // sun_path holds 108 bytes with the terminating NUL: 107 is the longest path.
  std::string longest = "/" + std::string(106, 'a');
  ASSERT_EQ(longest.size(), 107u);
  EXPECT_EQ(ok_endpoint("unix:" + longest).path, longest);

  std::string too_long = "/" + std::string(107, 'a');
  EXPECT_EQ(endpoint_error("unix:" + too_long),
            "unix socket path is longer than 107 bytes: '" + too_long + "'");
}

TEST(Endpoint, InetV4WithAndWithoutPrefix) {
  auto ep = ok_endpoint("inet:127.0.0.1:10040");
  EXPECT_EQ(ep.kind, Endpoint::Kind::tcp);
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, 10040);
  EXPECT_EQ(ep.path, "");
  EXPECT_EQ(ep.to_string(), "inet:127.0.0.1:10040");

  Endpoint bare;
  bare.kind = Endpoint::Kind::tcp;
  bare.host = "192.0.2.7";
  bare.port = 9125;
  EXPECT_EQ(ok_endpoint("192.0.2.7:9125"), bare);
  EXPECT_EQ(ok_endpoint("inet:0.0.0.0:65535").port, 65535);
}

TEST(Endpoint, InetV6InBrackets) {
  auto ep = ok_endpoint("inet:[::1]:10040");
  EXPECT_EQ(ep.kind, Endpoint::Kind::tcp);
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 10040);
  EXPECT_EQ(ep.to_string(), "inet:[::1]:10040");

  auto v6 = ok_endpoint("[2001:db8::25]:2526");
  EXPECT_EQ(v6.host, "2001:db8::25");
  EXPECT_EQ(v6.port, 2526);
  EXPECT_EQ(v6.to_string(), "inet:[2001:db8::25]:2526");
}

TEST(Endpoint, InetV6BracketErrors) {
  EXPECT_EQ(endpoint_error("inet:[::1"), "expected inet:[IPv6]:PORT, got 'inet:[::1'");
  EXPECT_EQ(endpoint_error("inet:[::1]"), "expected inet:[IPv6]:PORT, got 'inet:[::1]'");
  EXPECT_EQ(endpoint_error("inet:[::1]10040"), "expected inet:[IPv6]:PORT, got 'inet:[::1]10040'");
}

TEST(Endpoint, LocalhostMeansIpv4Loopback) {
  auto ep = ok_endpoint("inet:localhost:9125");
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, 9125);
  EXPECT_EQ(ep.to_string(), "inet:127.0.0.1:9125");
}

TEST(Endpoint, HostNamesAreRejected) {
  EXPECT_EQ(endpoint_error("inet:redis.example.com:6379"),
            "'redis.example.com' is not a literal IP address (host names are not resolved) in "
            "'inet:redis.example.com:6379'");
  EXPECT_EQ(endpoint_error("inet::10040"),
            "'' is not a literal IP address (host names are not resolved) in 'inet::10040'");
  EXPECT_EQ(endpoint_error("256.1.1.1:25"),
            "'256.1.1.1' is not a literal IP address (host names are not resolved) in "
            "'256.1.1.1:25'");
}

TEST(Endpoint, NoPortAtAll) {
  EXPECT_EQ(endpoint_error("127.0.0.1"),
            "expected unix:/path, inet:HOST:PORT or HOST:PORT, got '127.0.0.1'");
  EXPECT_EQ(endpoint_error(""), "expected unix:/path, inet:HOST:PORT or HOST:PORT, got ''");
}

TEST(Endpoint, BadPorts) {
  EXPECT_EQ(endpoint_error("inet:127.0.0.1:65536"), "bad port '65536' in 'inet:127.0.0.1:65536'");
  EXPECT_EQ(endpoint_error("inet:127.0.0.1:"), "bad port '' in 'inet:127.0.0.1:'");
  EXPECT_EQ(endpoint_error("inet:127.0.0.1:-1"), "bad port '-1' in 'inet:127.0.0.1:-1'");
  EXPECT_EQ(endpoint_error("inet:127.0.0.1:25x"), "bad port '25x' in 'inet:127.0.0.1:25x'");
  EXPECT_EQ(endpoint_error("inet:127.0.0.1: 25"), "bad port ' 25' in 'inet:127.0.0.1: 25'");
  EXPECT_EQ(endpoint_error("inet:[::1]:http"), "bad port 'http' in 'inet:[::1]:http'");
  EXPECT_EQ(endpoint_error("inet:127.0.0.1:99999999999"),
            "bad port '99999999999' in 'inet:127.0.0.1:99999999999'");
}

TEST(Endpoint, IsLoopback) {
  EXPECT_TRUE(ok_endpoint("unix:/run/x.sock").is_loopback());
  EXPECT_TRUE(ok_endpoint("127.0.0.1:1").is_loopback());
  EXPECT_TRUE(ok_endpoint("127.255.0.9:1").is_loopback());
  EXPECT_TRUE(ok_endpoint("localhost:1").is_loopback());
  EXPECT_TRUE(ok_endpoint("[::1]:1").is_loopback());
  EXPECT_FALSE(ok_endpoint("0.0.0.0:1").is_loopback());
  EXPECT_FALSE(ok_endpoint("128.0.0.1:1").is_loopback());
  EXPECT_FALSE(ok_endpoint("10.127.0.1:1").is_loopback());
  EXPECT_FALSE(ok_endpoint("[::]:1").is_loopback());
  EXPECT_FALSE(ok_endpoint("[2001:db8::1]:1").is_loopback());
}

// ---------------------------------------------------------------- parse_redis_url

RedisUrl ok_url(std::string_view text) {
  std::string err;
  auto u = parse_redis_url(text, err);
  EXPECT_TRUE(u.has_value()) << text << ": " << err;
  return u.value_or(RedisUrl{});
}

std::string url_error(std::string_view text) {
  std::string err;
  auto u = parse_redis_url(text, err);
  EXPECT_FALSE(u.has_value()) << text << " parsed";
  return err;
}

TEST(RedisUrl, HostPortDb) {
  auto u = ok_url("redis://127.0.0.1:6380/3");
  EXPECT_EQ(u.endpoint.kind, Endpoint::Kind::tcp);
  EXPECT_EQ(u.endpoint.host, "127.0.0.1");
  EXPECT_EQ(u.endpoint.port, 6380);
  EXPECT_EQ(u.db, 3);
  EXPECT_EQ(u.password, "");
}

TEST(RedisUrl, DefaultPortAndDb) {
  auto u = ok_url("redis://10.0.0.5");
  EXPECT_EQ(u.endpoint.host, "10.0.0.5");
  EXPECT_EQ(u.endpoint.port, 6379);
  EXPECT_EQ(u.db, 0);

  auto slash = ok_url("redis://10.0.0.5/");
  EXPECT_EQ(slash.endpoint.port, 6379);
  EXPECT_EQ(slash.db, 0);

  auto v6 = ok_url("redis://[::1]/2");
  EXPECT_EQ(v6.endpoint.host, "::1");
  EXPECT_EQ(v6.endpoint.port, 6379);
  EXPECT_EQ(v6.db, 2);

  auto v6port = ok_url("redis://[::1]:7000");
  EXPECT_EQ(v6port.endpoint.host, "::1");
  EXPECT_EQ(v6port.endpoint.port, 7000);

  EXPECT_EQ(ok_url("redis://localhost").endpoint.host, "127.0.0.1");
}

TEST(RedisUrl, Password) {
  auto u = ok_url("redis://:s3cret@127.0.0.1:6379/1");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.endpoint.host, "127.0.0.1");
  EXPECT_EQ(u.db, 1);

  // USER:PASSWORD: an ACL user (AUTH USER PASSWORD); "default" is Redis's
  // own user, the same as the password alone.
  auto acl = ok_url("redis://streamguard:pw@127.0.0.1");
  EXPECT_EQ(acl.username, "streamguard");
  EXPECT_EQ(acl.password, "pw");
  auto dflt = ok_url("redis://default:pw@127.0.0.1");
  EXPECT_EQ(dflt.username, "");
  EXPECT_EQ(dflt.password, "pw");
  EXPECT_EQ(ok_url("redis://token@127.0.0.1").password, "token");
  // A password may itself hold '@' and ':' (the last '@' ends it).
  auto odd = ok_url("redis://:p@ss:w0rd@127.0.0.1:6379");
  EXPECT_EQ(odd.password, "p@ss:w0rd");
  EXPECT_EQ(odd.endpoint.port, 6379);
}

TEST(RedisUrl, UnixSocket) {
  auto u = ok_url("unix:///run/redis/redis.sock?db=3");
  EXPECT_EQ(u.endpoint.kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(u.endpoint.path, "/run/redis/redis.sock");
  EXPECT_EQ(u.db, 3);

  auto short_form = ok_url("unix:/run/redis/redis.sock");
  EXPECT_EQ(short_form.endpoint.path, "/run/redis/redis.sock");
  EXPECT_EQ(short_form.db, 0);
}

TEST(RedisUrl, UnixSocketWithCredentials) {
  auto u = ok_url("unix://streamguard:s3cret@/run/redis/redis.sock?db=2");
  EXPECT_EQ(u.endpoint.path, "/run/redis/redis.sock");
  EXPECT_EQ(u.username, "streamguard");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(redact_redis_url("unix://streamguard:s3cret@/run/redis/redis.sock"),
            "unix://streamguard:***@/run/redis/redis.sock");
}

TEST(RedisUrl, Sentinels) {
  auto u = ok_url("sentinel://10.0.0.1:26380,10.0.0.2,[::1]/sg-main/2");
  EXPECT_TRUE(u.via_sentinel());
  EXPECT_EQ(u.master_name, "sg-main");
  EXPECT_EQ(u.db, 2);
  ASSERT_EQ(u.sentinels.size(), 3u);
  EXPECT_EQ(u.sentinels[0].to_string(), "inet:10.0.0.1:26380");
  EXPECT_EQ(u.sentinels[1].to_string(), "inet:10.0.0.2:26379");  // Sentinel's own port
  EXPECT_EQ(u.sentinels[2].to_string(), "inet:[::1]:26379");
  EXPECT_EQ(redis_location(u),
            "Redis master 'sg-main' (sentinels 10.0.0.1:26380, 10.0.0.2:26379, [::1]:26379)");

  auto auth = ok_url("sentinel://streamguard:p@ss@127.0.0.1:26379/sg");
  EXPECT_EQ(auth.username, "streamguard");
  EXPECT_EQ(auth.password, "p@ss");
  EXPECT_EQ(auth.db, 0);
  ASSERT_EQ(auth.sentinels.size(), 1u);
  EXPECT_EQ(redis_location(auth), "Redis master 'sg' (sentinel 127.0.0.1:26379)");
  EXPECT_FALSE(ok_url("redis://127.0.0.1").via_sentinel());

  const std::string need_master =
      "a sentinel url names the master after the sentinels, as in "
      "sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster (1-64 of A-Z a-z 0-9 . _ -); got ";
  EXPECT_EQ(url_error("sentinel://10.0.0.1:26379"), need_master + "'sentinel://10.0.0.1:26379'");
  EXPECT_EQ(url_error("sentinel://:s3cret@10.0.0.1/"), need_master + "'sentinel://:***@10.0.0.1/'");
  EXPECT_EQ(url_error("sentinel://10.0.0.1/my master"),
            need_master + "'sentinel://10.0.0.1/my master'");
  EXPECT_EQ(url_error("sentinel://10.0.0.1/sg/x"),
            "bad database number 'x' in 'sentinel://10.0.0.1/sg/x'");
  EXPECT_EQ(url_error("sentinel://:s3cret@10.0.0.1,sentinel.internal/sg"),
            "'sentinel.internal' is not a literal IP address (host names are not resolved) in "
            "'inet:sentinel.internal:26379' (a sentinel of "
            "'sentinel://:***@10.0.0.1,sentinel.internal/sg')");
  EXPECT_EQ(url_error("sentinel://10.0.0.1,,10.0.0.2/sg"),
            "'' is not a literal IP address (host names are not resolved) in 'inet::26379' (a "
            "sentinel of 'sentinel://10.0.0.1,,10.0.0.2/sg')");
}

TEST(RedisUrl, Errors) {
  EXPECT_EQ(
      url_error("http://127.0.0.1:6379"),
      "redis url must start with redis://, unix: or sentinel://, got 'http://127.0.0.1:6379'");
  EXPECT_EQ(
      url_error("rediss://127.0.0.1:6379"),
      "redis url must start with redis://, unix: or sentinel://, got 'rediss://127.0.0.1:6379'");
  EXPECT_EQ(url_error("redis://127.0.0.1:6379/x"),
            "bad database number 'x' in 'redis://127.0.0.1:6379/x'");
  EXPECT_EQ(url_error("redis://127.0.0.1:6379/-1"),
            "bad database number '-1' in 'redis://127.0.0.1:6379/-1'");
  EXPECT_EQ(url_error("redis://127.0.0.1:6379/10000"),
            "bad database number '10000' in 'redis://127.0.0.1:6379/10000'");
  EXPECT_EQ(url_error("unix:///run/redis.sock?db=x"),
            "bad query 'db=x' in 'unix:///run/redis.sock?db=x' (only ?db=N is understood)");
  EXPECT_EQ(url_error("unix:///run/redis.sock?timeout=3"),
            "bad query 'timeout=3' in 'unix:///run/redis.sock?timeout=3' (only ?db=N is "
            "understood)");
  EXPECT_EQ(url_error("unix://run/redis.sock"),
            "unix socket path must be absolute: 'unix:run/redis.sock'");
  EXPECT_EQ(url_error("redis://redis.internal:6379"),
            "'redis.internal' is not a literal IP address (host names are not resolved) in "
            "'inet:redis.internal:6379'");
  EXPECT_EQ(url_error("redis://127.0.0.1:70000"), "bad port '70000' in 'inet:127.0.0.1:70000'");
  EXPECT_EQ(url_error("redis://"),
            "'' is not a literal IP address (host names are not resolved) in 'inet::6379'");
}

TEST(RedisUrl, PasswordsAreNeverPrinted) {
  EXPECT_EQ(redact_redis_url("redis://:s3cret@127.0.0.1:6379/1"), "redis://:***@127.0.0.1:6379/1");
  EXPECT_EQ(redact_redis_url("redis://default:p@ss:w0rd@10.0.0.5"), "redis://default:***@10.0.0.5");
  EXPECT_EQ(redact_redis_url("redis://token@10.0.0.5"), "redis://***@10.0.0.5");
  EXPECT_EQ(redact_redis_url("redis://10.0.0.5:6379"), "redis://10.0.0.5:6379");
  EXPECT_EQ(redact_redis_url("unix:///run/redis.sock?db=2"), "unix:///run/redis.sock?db=2");
  EXPECT_EQ(redact_redis_url(":pw@10.0.0.5"), "***@10.0.0.5");
  // The errors of every malformed URL with a password.
  EXPECT_EQ(url_error("rediss://:s3cret@10.0.0.5:6379"),
            "redis url must start with redis://, unix: or sentinel://, got "
            "'rediss://:***@10.0.0.5:6379'");
  EXPECT_EQ(url_error("redis://:s3cret@10.0.0.5:6379/x"),
            "bad database number 'x' in 'redis://:***@10.0.0.5:6379/x'");
  for (const char* bad : {"rediss://:s3cret@10.0.0.5", "redis://:s3cret@10.0.0.5/x",
                          "redis://:s3cret@redis.internal", "redis://:s3cret@10.0.0.5:99999"})
    EXPECT_EQ(url_error(bad).find("s3cret"), std::string::npos) << url_error(bad);
}

// ---------------------------------------------------------------- limiter keys

TEST(LimiterKeys, ExactFormats) {
  EXPECT_EQ(keys::caps("sg", "trucking"), "sg:{trucking}:caps");
  EXPECT_EQ(keys::hourly_rate("sg", "trucking"), "sg:{trucking}:rate:hour");
  EXPECT_EQ(keys::hourly_rate("sg", "trucking", "google"), "sg:{trucking}:rate:hour:op:google");
  EXPECT_EQ(keys::daily_count("sg", "healthcare", "20260308"),
            "sg:{healthcare}:count:day:20260308");
  EXPECT_EQ(keys::daily_count("sg", "healthcare", "20260308", "microsoft"),
            "sg:{healthcare}:count:day:20260308:op:microsoft");
  EXPECT_EQ(keys::caps("test-1", "a_b"), "test-1:{a_b}:caps");
}

TEST(LimiterKeys, EveryKeyOfAStreamCarriesItsHashTag) {
  for (std::string stream : {"trucking", "healthcare", "x"}) {
    const std::string tag = "{" + stream + "}";
    const std::string keys_of_stream[] = {
        keys::caps("sg", stream),
        keys::hourly_rate("sg", stream),
        keys::hourly_rate("sg", stream, "google"),
        keys::daily_count("sg", stream, "20260101"),
        keys::daily_count("sg", stream, "20260101", "yahoo"),
    };
    for (const auto& k : keys_of_stream) {
      EXPECT_NE(k.find(tag), std::string::npos) << k;
      // Redis Cluster hashes the first {...}: it must be the stream's.
      EXPECT_EQ(k.find('{'), k.find(tag)) << k;
      EXPECT_EQ(k.rfind('{'), k.find(tag)) << k;
    }
  }
}

TEST(LimiterKeys, CapFields) {
  EXPECT_EQ(keys::cap_field("hourly"), "hourly");
  EXPECT_EQ(keys::cap_field("daily", ""), "daily");
  EXPECT_EQ(keys::cap_field("hourly", "google"), "op:google:hourly");
  EXPECT_EQ(keys::cap_field("daily", "google"), "op:google:daily");
}

}  // namespace
}  // namespace sg
