#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collectors/core/unique_fd.h"
#include "exporter/tls_context.h"

namespace sidecar {

struct SocketAddress {
  sockaddr_storage storage;
  socklen_t length;
};

// Parses a Prometheus listen address: "host:port" (IPv4 address or localhost), ":port" (every
// IPv4 interface) or "[v6addr]:port". nullopt when it is none of these.
std::optional<SocketAddress> ParseListenAddress(std::string_view listen_address);

struct ConnectionGateOptions {
  // Prometheus style: "host:port", ":port" (every IPv4 interface) or "[v6]:port"; port 0 picks a
  // free port.
  std::string listen_address;
  // The HTTP server the complete requests go to, on 127.0.0.1.
  int backend_port = 0;
  // Set: the port speaks TLS, and the gate terminates it with this context (which must outlive
  // the gate; its certificate is picked up anew, renewed files included, at each handshake).
  // The handshake and then the request header must both be done within `header_timeout`, and
  // the server behind gets plain HTTP.
  const TlsContext* tls = nullptr;
  // With TLS: a header line ("Name: value") the gate puts right after the request line when the
  // client presented a certificate at the handshake (verified there as the context requires), so
  // that the server can require one without seeing TLS. Its value is a secret of the process,
  // which a client cannot forge by sending the same header.
  std::string client_certificate_header;
  // A request header (or a ClientHello) must arrive whole within this long of the connection's
  // start (or of the previous response): a client trickling bytes gains nothing.
  std::chrono::milliseconds header_timeout{5000};
  // A larger request header is answered 431 and the connection closed.
  std::size_t max_header_bytes = 16 * 1024;
  // Connections waiting for their header; at the limit the oldest is closed to admit a new one.
  std::size_t max_waiting = 16384;
  // Requests being relayed at once (each holds what one side sent and the other has not taken yet);
  // more wait their turn.
  std::size_t max_relays = 256;
  int listen_backlog = 4096;
  // On stop, responses being relayed get this long to complete (a scrape's answer commits its
  // log positions: cutting it would hide its lines from Prometheus); new connections are refused
  // and idle ones closed at once.
  std::chrono::milliseconds stop_drain_timeout{1000};
};

// Owns the exporter's listening socket and hands a connection to the HTTP server only once its
// request header has arrived whole, so that clients that connect and stall (idle ones, or
// slowloris ones trickling a byte a second) cost a file descriptor and a few bytes here instead
// of one of the server's worker threads. CivetWeb (1.15) gives every connection a worker from its
// first byte and cannot take a connection someone else accepted, so the gate relays: it opens a
// connection to the server on loopback per request, sends the header, and copies the response
// back. The server closes after each response; the gate then waits for the client's next request
// itself, so keep-alive clients keep their connection. With TLS the gate terminates it (a client
// that stalls after its handshake must not hold a worker either) and relays plain HTTP.
//
// One thread, one epoll set. Starts in the constructor (throws std::runtime_error when it cannot
// listen); the destructor stops listening, lets the responses being relayed finish (up to
// `stop_drain_timeout`), closes every connection and returns once the thread has stopped.
class ConnectionGate {
 public:
  explicit ConnectionGate(ConnectionGateOptions options);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

 private:
  enum class State { kWaiting, kReady, kRelaying };
  struct Buffer {
    std::string data;
    std::size_t begin = 0;
    bool empty() const { return begin == data.size(); }
  };
  struct Connection {
    UniqueFd client;
    // TLS: the client's session, its handshake state, and what it sent, decrypted, that has not
    // been passed on (a TLS stream cannot be peeked at: its bytes are read as they come).
    std::unique_ptr<TlsServerSession> tls;
    bool handshake_done = false;
    bool client_certificate = false;
    bool tls_read_wants_write = false;  // a TLS read needs the socket writable (and vice versa)
    bool tls_write_wants_read = false;
    std::string received;
    UniqueFd backend;
    State state = State::kWaiting;
    // Waiting and ready: when the header must be complete. Relaying: when an idle relay ends.
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t arrival = 0;        // order of arrival, to close the oldest waiting one first
    std::size_t header_bytes = 0;     // the request header (or the ClientHello) to pass on first
    bool relay_client_bytes = false;  // pass on what the client sends after it too
    Buffer to_backend;
    Buffer to_client;
    // Plain clients: part of the response waits in the server's socket until the client takes
    // more (see Pump), instead of in `to_client`.
    bool response_waits_for_client = false;
    bool backend_done = false;  // the server closed its side
    bool client_done = false;   // the client closed its sending side
    bool backend_shut = false;  // ...and the server was told so
    bool close_after_response = false;
    // Plain GET and HEAD: the response ends at its Content-Length, and the connection to the
    // server is kept for the client's next request.
    bool frame_response = false;
    bool head_request = false;
    std::string request;  // the header sent, to send again if a kept connection was closed
    bool resent = false;
    std::string response_head;  // the response's head while it is incomplete
    std::size_t response_bytes = 0;
    std::optional<std::size_t> response_length;  // head and body, once the head is read
    std::uint32_t client_events = 0;
    std::uint32_t backend_events = 0;
  };

  // Results of ReadClient and WriteClient besides a byte count (> 0); ReadClient returns 0 when
  // the client closed its sending side.
  static constexpr long kWouldBlock = -1;
  static constexpr long kFailed = -2;
  // A socket's recv and send in those terms (ENOTCONN: a connect still under way).
  static long ReceiveFrom(int fd, char* data, std::size_t size);
  static long SendTo(int fd, const char* data, std::size_t size);

  void Run(std::stop_token stop);
  // The client's bytes in and out, through TLS when it speaks TLS.
  long ReadClient(Connection& connection, char* data, std::size_t size);
  long WriteClient(Connection& connection, const char* data, std::size_t size);
  // Advances the TLS handshake; false when it failed (the connection is then closed).
  bool Handshake(Connection& connection);
  // Stops listening and closes every connection that is not relaying a response.
  void BeginDrain();
  void AcceptAll();
  // Peeks at what a waiting client sent; marks it ready once its header is whole.
  void OnClientReadable(Connection& connection);
  // Promotes ready connections, oldest first, while relay slots are free.
  void StartRelays();
  bool StartRelay(Connection& connection);
  // A new loopback connection to the server, watched for nothing yet.
  bool ConnectBackend(Connection& connection);
  // Learns the response's length from its head as the first bytes arrive.
  void FrameResponse(Connection& connection, std::string_view received);
  // Moves bytes both ways as far as the sockets allow; closes the connection when it is done.
  void Pump(Connection& connection);
  // Ends a relay whose response is complete: closes, or waits for the client's next request
  // (keeping the connection to the server when it is still open).
  void FinishResponse(Connection& connection);
  void Wait(Connection& connection);
  void Watch(Connection& connection, std::uint32_t client_events, std::uint32_t backend_events);
  void Close(int client_fd);
  void CloseOldestWaiting();
  void Sweep(std::chrono::steady_clock::time_point now);

  const ConnectionGateOptions options_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  sockaddr_in backend_address_{};
  int port_ = 0;
  bool accepting_ = true;
  bool draining_ = false;  // stopping: relays in progress finish, nothing new starts
  std::uint64_t arrivals_ = 0;
  std::size_t waiting_ = 0;
  std::size_t relays_ = 0;
  // By client descriptor.
  std::unordered_map<int, Connection> connections_;
  // Ready connections in order of arrival, as (descriptor, arrival): a descriptor may have been
  // closed and reused since, which the arrival number tells.
  std::deque<std::pair<int, std::uint64_t>> ready_;
  std::vector<char> peek_buffer_;
  // Every relay reads into this one (the gate has one thread); pages are touched only as used.
  std::unique_ptr<char[]> relay_scratch_;
  // Last member: the thread stops before what it uses is destroyed.
  std::jthread thread_;
};

}  // namespace sidecar
