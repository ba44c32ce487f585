// parse_http_url: the URLs rampd posts to (Listmonk's reload_url).
#include <gtest/gtest.h>

#include <string>

#include "rampd/http_client.hpp"

namespace sg::http {
namespace {

HttpUrl ok_url(std::string_view text) {
  std::string err;
  auto u = parse_http_url(text, err);
  EXPECT_TRUE(u.has_value()) << text << ": " << err;
  EXPECT_EQ(err, "") << text;
  return u.value_or(HttpUrl{});
}

std::string url_error(std::string_view text) {
  std::string err;
  auto u = parse_http_url(text, err);
  EXPECT_FALSE(u.has_value()) << text << " parsed as " << (u ? u->authority() + u->target : "");
  EXPECT_NE(err, "") << text;
  return err;
}

TEST(HttpUrl, ListmonkReloadUrl) {
  auto u = ok_url("http://127.0.0.1:9000/api/admin/reload");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.target, "/api/admin/reload");
  EXPECT_EQ(u.host_header(), "127.0.0.1:9000");
  EXPECT_EQ(u.authority(), "127.0.0.1:9000");
}

TEST(HttpUrl, PortDefaultsTo80) {
  auto u = ok_url("http://listmonk.internal/api/admin/reload");
  EXPECT_EQ(u.host, "listmonk.internal");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.host_header(), "listmonk.internal");  // no ":80" in the Host header
  EXPECT_EQ(u.authority(), "listmonk.internal:80");
}

TEST(HttpUrl, PathDefaultsToSlash) {
  EXPECT_EQ(ok_url("http://localhost").target, "/");
  EXPECT_EQ(ok_url("http://localhost:9000").target, "/");
  EXPECT_EQ(ok_url("http://localhost:9000/").target, "/");
}

TEST(HttpUrl, QueryKeptFragmentDropped) {
  EXPECT_EQ(ok_url("http://h/a/b?x=1&y=2").target, "/a/b?x=1&y=2");
  EXPECT_EQ(ok_url("http://h?x=1").target, "/?x=1");
  EXPECT_EQ(ok_url("http://h/a#frag").target, "/a");
  EXPECT_EQ(ok_url("http://h:81#frag").target, "/");
}

TEST(HttpUrl, SchemeIsCaseInsensitive) {
  auto u = ok_url("HTTP://Example.COM:8080/x");
  EXPECT_EQ(u.host, "Example.COM");
  EXPECT_EQ(u.port, 8080);
}

TEST(HttpUrl, Ipv6Literal) {
  auto u = ok_url("http://[::1]:9000/api/admin/reload");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.target, "/api/admin/reload");
  EXPECT_EQ(u.host_header(), "[::1]:9000");
  EXPECT_EQ(u.authority(), "[::1]:9000");

  auto v = ok_url("http://[fe80::1:2]");
  EXPECT_EQ(v.host, "fe80::1:2");
  EXPECT_EQ(v.port, 80);
  EXPECT_EQ(v.host_header(), "[fe80::1:2]");
}

TEST(HttpUrl, BadIpv6) {
  EXPECT_NE(url_error("http://[::1/x").find("unclosed '['"), std::string::npos);
  EXPECT_NE(url_error("http://[not-v6]:80/").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(url_error("http://[::1]x/").find("after ']'"), std::string::npos);
  EXPECT_NE(url_error("http://::1:9000/").find("in brackets"), std::string::npos);
}

TEST(HttpUrl, BadSchemes) {
  EXPECT_EQ(url_error("https://127.0.0.1:9000/api/admin/reload"),
            "https is not supported (only http://): 'https://127.0.0.1:9000/api/admin/reload'");
  EXPECT_EQ(url_error("ftp://h/"), "not an http:// URL: 'ftp://h/'");
  EXPECT_EQ(url_error("127.0.0.1:9000/api"), "not an http:// URL: '127.0.0.1:9000/api'");
  EXPECT_EQ(url_error("http:/h/"), "not an http:// URL: 'http:/h/'");
  EXPECT_EQ(url_error(""), "not an http:// URL: ''");
}

TEST(HttpUrl, BadPorts) {
  EXPECT_NE(url_error("http://h:0/").find("bad port '0'"), std::string::npos);
  EXPECT_NE(url_error("http://h:65536/").find("bad port '65536'"), std::string::npos);
  EXPECT_NE(url_error("http://h:/").find("bad port ''"), std::string::npos);
  EXPECT_NE(url_error("http://h:9x/").find("bad port '9x'"), std::string::npos);
  EXPECT_NE(url_error("http://h:-1/").find("bad port"), std::string::npos);
  EXPECT_EQ(ok_url("http://h:65535/").port, 65535);
  EXPECT_EQ(ok_url("http://h:1/").port, 1);
}

TEST(HttpUrl, EmptyOrBadHost) {
  EXPECT_NE(url_error("http:///path").find("no host"), std::string::npos);
  EXPECT_NE(url_error("http://:9000/").find("no host"), std::string::npos);
  EXPECT_NE(url_error("http://h%41/").find("bad character '%'"), std::string::npos);
}

TEST(HttpUrl, CredentialsInUrlRefusedWithoutEchoingThem) {
  std::string err = url_error("http://admin:s3cret@127.0.0.1:9000/api/admin/reload");
  EXPECT_NE(err.find("user:password@"), std::string::npos);
  EXPECT_EQ(err.find("s3cret"), std::string::npos);
}

TEST(HttpUrl, SpacesAndControlCharactersRefused) {
  // A line break would let a URL inject headers into the request.
  EXPECT_NE(url_error("http://h/a\r\nX-Evil: 1").find("control character"), std::string::npos);
  EXPECT_NE(url_error("http://h/a b").find("space"), std::string::npos);
  EXPECT_NE(url_error(" http://h/").find("space"), std::string::npos);
}

}  // namespace
}  // namespace sg::http
