// The fixture of the OpenDKIM config reader's unit tests (opendkim_*_test.cpp):
// a temp dir holding opendkim.conf and its data sets.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "formats/opendkim.hpp"

// A temp dir holding opendkim.conf and its data sets.
class OpenDkimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("sg-opendkim-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // opendkim.conf with the bulk sender's tables (brief rule 6) plus `extra`.
  std::string bulk_conf(const std::string& extra) {
    write("key.table",
          "send._domainkey.send.example.com send.example.com:send:/etc/opendkim/keys/send.private\n"
          "default._domainkey.example.com   example.com:default:/etc/opendkim/keys/root.private\n");
    write("signing.table",
          "# From patterns, in order\n"
          "*@send.example.com  send._domainkey.send.example.com\n"
          "*@example.com       default._domainkey.example.com\n");
    return write("opendkim.conf",
                 "Syslog yes\n"
                 "KeyTable refile:" +
                     path("key.table") + "\n" + "SigningTable refile:" + path("signing.table") +
                     "\n" + extra);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::shared_ptr<const sg::dkim::OpenDkimConfig> ok(const sg::dkim::LoadResult& r) {
    for (const auto& e : r.errors) ADD_FAILURE() << e.str();
    EXPECT_NE(r.config, nullptr);
    return r.config;
  }

  static sg::dkim::ClientInfo client(const std::string& ip, const std::string& host = "") {
    sg::dkim::ClientInfo c;
    c.ip = ip;
    c.hostname = host;
    return c;
  }

  static std::string all_errors(const sg::dkim::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.str() + "\n";
    return out;
  }

  std::filesystem::path dir_;
};
