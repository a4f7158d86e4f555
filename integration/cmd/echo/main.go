// Command echo is the demo upstream: it answers every request with a description of the request (method, path,
// query, host, headers), as JSON, or as an HTML page (who you are, a sign-out button) to a browser.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/echo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	logoutPath := flag.String("logout-path", echo.DefaultLogoutPath, "the middleware's logout path (the HTML page's sign-out button posts there)")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: echo.NewHandler(echo.Options{LogoutPath: *logoutPath}), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("echo upstream listening on http://%s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
