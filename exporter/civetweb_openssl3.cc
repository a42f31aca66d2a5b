// Makes Debian bookworm's CivetWeb 1.15 serve TLS with OpenSSL 3.
//
// That CivetWeb is built for the OpenSSL 1.1 API and loads OpenSSL at run time: it dlopen()s
// "libssl.so" and "libcrypto.so" (names only the -dev package provides) and looks each function
// up with dlsym(). OpenSSL 3 no longer exports SSL_get_peer_certificate (it became a macro for
// SSL_get1_peer_certificate), so CivetWeb's pointer to it is null, and it calls it for every
// TLS connection: the worker crashes on the first HTTPS request.
//
// The fix: this program defines dlopen(), which takes precedence over libc's for every library
// loaded by this process. For those two names, and only those, it answers with the program
// itself (whose dependencies include libssl.so.3 and libcrypto.so.3, linked here) so CivetWeb's
// dlsym() finds OpenSSL 3's functions plus the SSL_get_peer_certificate defined below. Every other
// call goes to libc's dlopen unchanged.
#include <dlfcn.h>
#include <openssl/ssl.h>

#include <cstring>

extern "C" {

// Exported from the executable (see CMakeLists.txt: --export-dynamic-symbol). OpenSSL 3's header
// turns the name into a macro for the new one; the old name is the one CivetWeb asks for.
#undef SSL_get_peer_certificate
X509* SSL_get_peer_certificate(const SSL* ssl) { return SSL_get1_peer_certificate(ssl); }

void* dlopen(const char* file, int mode) {
  using DlopenFunction = void* (*)(const char*, int);
  static const auto real_dlopen = reinterpret_cast<DlopenFunction>(dlsym(RTLD_NEXT, "dlopen"));
  if (file != nullptr &&
      (std::strcmp(file, "libssl.so") == 0 || std::strcmp(file, "libcrypto.so") == 0)) {
    return real_dlopen(nullptr, mode);
  }
  return real_dlopen(file, mode);
}

}  // extern "C"

namespace sidecar {
// Referenced by HttpServer so that every program linking it carries the definitions above.
void UseCivetWebOpenSsl3Compat() {}
}  // namespace sidecar
