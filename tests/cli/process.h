// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Runs real programs (the `cidrot` binary, cidrot-server) for the CLI tests: posix_spawn with
// stdin from a string, stdout/stderr captured in files, a clean environment and a working
// directory of the test's choosing.
#ifndef CIDROT_TESTS_CLI_PROCESS_H_
#define CIDROT_TESTS_CLI_PROCESS_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace cidrot::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("cidrot-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct ProcessResult {
  int code = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::string stdin_text;
  std::filesystem::path cwd;               // "" = inherit
  std::map<std::string, std::string> env;  // added to the environment
  // Variables with these prefixes are removed from the inherited environment, so that a
  // developer's CIDROT_STORE cannot leak into a test.
  std::vector<std::string> drop_env_prefixes = {"CIDROT_", "DEFAULT_", "RESERVATION_TTL"};
};

// A started child; wait() collects it.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const ProcessOptions& options = {}) {
    static std::atomic<int> counter{0};
    const std::string base =
        (std::filesystem::temp_directory_path() /
         ("cidrot-proc-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
            .string();
    in_path_ = base + ".in";
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    write_file(in_path_, options.stdin_text);

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      bool drop = false;
      for (const auto& p : options.drop_env_prefixes) drop = drop || kv.rfind(p, 0) == 0;
      const std::string key = kv.substr(0, kv.find('='));
      if (!drop && !options.env.count(key)) env.push_back(kv);
    }
    for (const auto& [k, v] : options.env) env.push_back(k + "=" + v);

    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path_.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string cwd = options.cwd.string();
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    std::remove(in_path_.c_str());
    std::remove(out_path_.c_str());
    std::remove(err_path_.c_str());
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The output so far (for a child that is still running).
  std::string out_so_far() const { return read_file(out_path_); }
  std::string err_so_far() const { return read_file(err_path_); }

  ProcessResult wait() {
    ProcessResult r;
    int status = 0;
    while (pid_ > 0 && ::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_path_);
    r.err = read_file(err_path_);
    return r;
  }

 private:
  pid_t pid_ = -1;
  std::string in_path_, out_path_, err_path_;
};

inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const ProcessOptions& options = {}) {
  Process p(argv, options);
  return p.wait();
}

}  // namespace cidrot::test

#endif  // CIDROT_TESTS_CLI_PROCESS_H_
