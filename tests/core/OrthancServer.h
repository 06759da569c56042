#pragma once
// A real PACS for tests: Debian's Orthanc (/usr/sbin/Orthanc, package `orthanc`) started on
// loopback with its own configuration and storage in a temporary folder, and a minimal HTTP
// client for its REST API to check what it holds. Tests skip (GTEST_SKIP() << kOrthancMissing)
// only when the program is not installed; a server that is installed but does not start is a
// failure, reported with Orthanc's log.

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "TestPaths.h"

namespace al::test {

inline const char* const kOrthancBinary = "/usr/sbin/Orthanc";
inline const char* const kOrthancMissing = "orthanc not installed (apt-get install orthanc)";

inline bool orthancAvailable() { return ::access(kOrthancBinary, X_OK) == 0; }

// A TCP port that was free a moment ago (the kernel's pick for port 0). Whoever binds it next
// may race another process; OrthancServer retries with fresh ports when Orthanc cannot bind.
inline int freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string body;
};

// One HTTP/1.1 request to 127.0.0.1:port with "Connection: close"; enough for Orthanc's REST
// API (Content-Length or chunked bodies). Never waits longer than timeoutSeconds per read.
inline HttpResponse httpRequest(int port, const std::string& method, const std::string& path, const std::string& body = {},
                                const std::string& contentType = "application/json", int timeoutSeconds = 30) {
  HttpResponse r;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r;
  timeval tv{timeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return r;
  }
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!body.empty()) request += "Content-Type: " + contentType + "\r\n";
  request += "\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return r;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buffer[65536];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) raw.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);

  const auto headerEnd = raw.find("\r\n\r\n");
  if (raw.compare(0, 5, "HTTP/") != 0 || headerEnd == std::string::npos) return r;
  r.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  std::string headers = raw.substr(0, headerEnd);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string payload = raw.substr(headerEnd + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    std::size_t pos = 0;
    for (;;) {
      const auto lineEnd = payload.find("\r\n", pos);
      if (lineEnd == std::string::npos) break;
      const std::size_t size = std::strtoul(payload.substr(pos, lineEnd - pos).c_str(), nullptr, 16);
      if (size == 0) break;
      decoded += payload.substr(lineEnd + 2, size);
      pos = lineEnd + 2 + size + 2;
    }
    payload = decoded;
  }
  r.body = payload;
  return r;
}

class OrthancServer {
 public:
  // Starts Orthanc with DICOM AE title `aeTitle` and lets `callingAeTitle` (on 127.0.0.1) echo,
  // find, get, move and store. Throws std::runtime_error with Orthanc's log when it does not
  // answer within startSeconds.
  explicit OrthancServer(std::string callingAeTitle = "ANOMALYLENS", std::string aeTitle = "ORTHANCTEST", int startSeconds = 60)
      : aeTitle_(std::move(aeTitle)), callingAeTitle_(std::move(callingAeTitle)) {
    std::string lastError;
    for (int attempt = 0; attempt < 3; ++attempt) {  // a port taken between probe and bind: retry
      dicomPort_ = freeTcpPort();
      httpPort_ = freeTcpPort();
      if (dicomPort_ == httpPort_) continue;
      if (start(startSeconds, lastError)) return;
    }
    throw std::runtime_error("Orthanc did not start: " + lastError);
  }
  ~OrthancServer() { stop(); }
  OrthancServer(const OrthancServer&) = delete;
  OrthancServer& operator=(const OrthancServer&) = delete;

  const std::string& aeTitle() const { return aeTitle_; }
  int dicomPort() const { return dicomPort_; }
  int httpPort() const { return httpPort_; }
  // "AET@127.0.0.1:PORT", as parseNode reads it.
  std::string nodeSpec() const { return aeTitle_ + "@127.0.0.1:" + std::to_string(dicomPort_); }

  HttpResponse request(const std::string& method, const std::string& path, const std::string& body = {},
                       const std::string& contentType = "application/json") const {
    return httpRequest(httpPort_, method, path, body, contentType);
  }
  // GET/POST with a JSON answer; throws std::runtime_error on any status but 200.
  nlohmann::json get(const std::string& path) const { return json(request("GET", path), "GET " + path); }
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const {
    return json(request("POST", path, body.dump()), "POST " + path);
  }
  // Uploads a DICOM file through REST (POST /instances), bypassing DICOM networking.
  nlohmann::json upload(const std::string& file) const {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return json(request("POST", "/instances", bytes, "application/dicom"), "upload " + file);
  }
  std::string log() const {
    std::ifstream in(dir_.file("orthanc.log"));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  static nlohmann::json json(const HttpResponse& r, const std::string& what) {
    if (r.status != 200) throw std::runtime_error(what + ": HTTP " + std::to_string(r.status) + " " + r.body);
    return nlohmann::json::parse(r.body);
  }

  bool start(int startSeconds, std::string& error) {
    const nlohmann::json modality = {{"AET", callingAeTitle_}, {"Host", "127.0.0.1"}, {"Port", freeTcpPort()},
                                     {"AllowEcho", true},      {"AllowFind", true},     {"AllowGet", true},
                                     {"AllowMove", true},      {"AllowStore", true}};
    const nlohmann::json config = {
        {"Name", "AnomalyLensTest"},
        {"StorageDirectory", dir_.file("storage")},
        {"IndexDirectory", dir_.file("storage")},
        {"Plugins", nlohmann::json::array()},
        {"HttpServerEnabled", true},
        {"HttpPort", httpPort_},
        {"RemoteAccessAllowed", false},
        {"AuthenticationEnabled", false},
        {"HttpThreadsCount", 4},
        {"DicomServerEnabled", true},
        {"DicomAet", aeTitle_},
        {"DicomPort", dicomPort_},
        {"DicomCheckCalledAet", true},
        {"DicomAlwaysAllowEcho", true},
        {"DicomAlwaysAllowStore", true},
        {"DicomAlwaysAllowFind", true},
        {"DicomAlwaysAllowGet", true},
        {"DicomAlwaysAllowMove", true},
        {"DicomModalities", {{"anomalylens", modality}}},
        {"DicomThreadsCount", 2},
        {"DicomScpTimeout", 30},
        {"ConcurrentJobs", 1},
        {"SaveJobs", false},
        {"MetricsEnabled", false},
        {"StorageCompression", false},
        {"SyncStorageArea", false},  // throwaway data: no fsync per instance
        {"OverwriteInstances", true},
        {"DeidentifyLogs", false},
    };
    std::ofstream(dir_.file("orthanc.json")) << config.dump(2);

    const std::string configPath = dir_.file("orthanc.json");
    const std::string logPath = dir_.file("orthanc.log");
    // Orthanc's DCMTK, like ours, keeps Nagle's algorithm unless TCP_NODELAY=1: without it each
    // instance it sends waits ~40 ms for our delayed ACK.
    std::vector<std::string> env = {"TCP_NODELAY=1"};
    for (char** e = environ; *e; ++e) {
      if (std::string(*e).rfind("TCP_NODELAY=", 0) != 0) env.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      error = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      const int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
      }
      ::execle(kOrthancBinary, kOrthancBinary, configPath.c_str(), static_cast<char*>(nullptr), envp.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(startSeconds);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error = "Orthanc exited at start; its log:\n" + log();
        return false;
      }
      if (httpRequest(httpPort_, "GET", "/system", {}, {}, 2).status == 200 && dicomPortOpen()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    error = "no answer on port " + std::to_string(httpPort_) + " within " + std::to_string(startSeconds) + " s; its log:\n" + log();
    stop();
    return false;
  }

  bool dicomPortOpen() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(dicomPort_));
    const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return open;
  }

  // SIGTERM, then SIGKILL when it has not exited within 10 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
  }

  TempDir dir_;  // declared first: outlives the process that writes into it
  std::string aeTitle_, callingAeTitle_;
  int dicomPort_ = -1, httpPort_ = -1;
  pid_t pid_ = -1;
};

}  // namespace al::test
