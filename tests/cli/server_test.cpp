// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// cidrot-server and the cidrot CLI on one SQLite file: an import is visible to the server's next
// request, changes and releases made by either are seen by the other, and leases taken by both at
// the same time never share a number. The server listens on 127.0.0.1 with an ephemeral port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace json = boost::json;
using cidrot::test::Process;
using cidrot::test::ProcessOptions;
using cidrot::test::ProcessResult;
using cidrot::test::TempDir;

namespace {

// The server's status for "no caller-ID available" (apps/server/api.h: kNoCallerIdStatus).
constexpr int kNoCallerId = 409;

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One GET over a fresh connection (Connection: close), enough for a test.
HttpResponse http_get(int port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    FAIL("connect to 127.0.0.1:" << port << " failed");
  }
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  HttpResponse r;
  if (raw.size() > 12) r.status = std::stoi(raw.substr(9, 3));
  const auto split = raw.find("\r\n\r\n");
  if (split != std::string::npos) r.body = raw.substr(split + 4);
  return r;
}

// A cidrot-server on a fresh SQLite file, and the CLI pointed at the same file.
class ServerAndCli {
 public:
  ServerAndCli() {
    ProcessOptions o;
    o.cwd = dir_.path();
    o.env = {{"CIDROT_STORE", url_}, {"CIDROT_LISTEN", "127.0.0.1:0"}, {"LOG_LEVEL", "WARNING"}};
    server_ = std::make_unique<Process>(std::vector<std::string>{CIDROT_SERVER_BIN}, o);
    const std::regex banner(R"(listening on http://127\.0\.0\.1:(\d+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::smatch m;
    std::string out;
    while (std::chrono::steady_clock::now() < deadline) {
      out = server_->out_so_far();
      if (std::regex_search(out, m, banner)) {
        port_ = std::stoi(m[1]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("cidrot-server did not start: " << out << server_->err_so_far());
  }
  ~ServerAndCli() {
    ::kill(server_->pid(), SIGTERM);
    server_->wait();
  }

  ProcessResult cli(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), {CIDROT_CLI_BIN, "--store", url_});
    ProcessOptions o;
    o.cwd = dir_.path();
    o.stdin_text = input;
    return cidrot::test::run_process(args, o);
  }
  std::unique_ptr<Process> start_cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {CIDROT_CLI_BIN, "--store", url_});
    ProcessOptions o;
    o.cwd = dir_.path();
    return std::make_unique<Process>(args, o);
  }
  HttpResponse get(const std::string& target) const { return http_get(port_, target); }

 private:
  TempDir dir_;
  std::string url_ = "sqlite://" + (dir_ / "cidrot.db");
  std::unique_ptr<Process> server_;
  int port_ = 0;
};

std::string numbers_csv(int first, int count) {
  std::string csv = "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n";
  for (int i = 0; i < count; ++i) csv += std::to_string(first + i) + ",Carrier,,,,\n";
  return csv;
}

}  // namespace

TEST_CASE("server+cli: an import is visible to the server's next request", "[cli][server]") {
  ServerAndCli env;
  auto r = env.get("/next-cid?to=2125550199&campaign=sales&agent=a1");
  CHECK(r.status == kNoCallerId);
  CHECK_THAT(r.body, Catch::Contains("pool_empty"));

  const auto imp = env.cli({"import", "-"}, numbers_csv(2125550100, 5));
  REQUIRE(imp.code == 0);
  r = env.get("/next-cid?to=2125550199&campaign=sales&agent=a1");
  REQUIRE(r.status == 200);
  const auto lease = json::parse(r.body).as_object();
  const std::string cid(lease.at("caller_id").as_string());
  CHECK(cid == "2125550100");  // least recently used, lowest number first

  // The CLI sees the server's lease, and ends it; the server can lease that number again.
  auto shown = json::parse(env.cli({"show", cid, "--json"}).out);
  CHECK(shown.at("active_leases") == 1);
  CHECK(shown.at("total_uses") == 1);
  const std::string id(lease.at("reservation_id").as_string());
  CHECK(env.cli({"release", id, "--disposition", "answered"}).out == "released 1 lease\n");
  // Disabling the other four through the CLI leaves the released one as the only choice.
  CHECK(env.cli({"disable", "2125550101", "2125550102", "2125550103", "2125550104"}).code == 0);
  r = env.get("/next-cid?to=2125550199&campaign=sales&agent=a2&format=text");
  CHECK(r.status == 200);
  CHECK(r.body == cid);
  r = env.get("/next-cid?to=2125550199&campaign=sales&agent=a3");
  CHECK(r.status == kNoCallerId);
  CHECK_THAT(r.body, Catch::Contains("all_reserved"));
}

TEST_CASE("server+cli: leases from both at once never share a number", "[cli][server]") {
  ServerAndCli env;
  constexpr int kNumbers = 16;
  constexpr int kHttpThreads = 3;
  constexpr int kHttpPerThread = 10;
  constexpr int kCliCalls = 12;
  REQUIRE(env.cli({"import", "-"}, numbers_csv(2125550100, kNumbers)).code == 0);

  std::mutex mu;
  std::vector<std::string> leased;
  int denied = 0, failed = 0;
  std::vector<std::thread> http;
  for (int t = 0; t < kHttpThreads; ++t) {
    http.emplace_back([&, t] {
      for (int i = 0; i < kHttpPerThread; ++i) {
        const auto r = env.get("/next-cid?to=2125550199&campaign=c&agent=h" + std::to_string(t) +
                               "&format=text");
        std::lock_guard<std::mutex> lock(mu);
        if (r.status == 200) {
          leased.push_back(r.body);
        } else if (r.status == kNoCallerId) {
          ++denied;
        } else {
          ++failed;
        }
      }
    });
  }
  std::vector<std::unique_ptr<Process>> cli;
  for (int i = 0; i < kCliCalls; ++i) {
    cli.push_back(env.start_cli(
        {"next", "--to", "2125550199", "--campaign", "c", "--agent", "c" + std::to_string(i)}));
  }
  for (auto& p : cli) {
    const auto r = p->wait();
    std::lock_guard<std::mutex> lock(mu);
    if (r.code == 0) {
      leased.push_back(r.out.substr(0, 10));
    } else if (r.code == 2) {
      ++denied;
    } else {
      ++failed;
      UNSCOPED_INFO("cidrot next: " << r.code << " " << r.err);
    }
  }
  for (auto& t : http) t.join();

  CHECK(failed == 0);
  const std::set<std::string> distinct(leased.begin(), leased.end());
  CHECK(distinct.size() == leased.size());  // no number was handed out twice
  CHECK(leased.size() == kNumbers);         // more requests than numbers: every one leased
  CHECK(denied == kHttpThreads * kHttpPerThread + kCliCalls - kNumbers);
  const auto st = json::parse(env.cli({"stats", "--json"}).out);
  CHECK(st.at("active_leases") == kNumbers);
}
