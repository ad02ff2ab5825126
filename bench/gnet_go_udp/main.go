// gnet_udp_echo: UDP echo server on gnet v2, shaped like gnet-io/gnet-examples echo_udp (each
// datagram is one OnTraffic; c.Write answers its sender). Built beside ../shared/peers/gnet's
// servers with the same offline module setup (bench/gnet_go_peer.py, build_udp).
//
//	gnet_udp_echo -port 9000 -loops 1
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type echoServer struct {
	gnet.BuiltinEventEngine

	eng       atomic.Value // gnet.Engine, set in OnBoot
	addr      string
	multicore bool
	loops     int
}

func (es *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	es.eng.Store(eng)
	log.Printf("gnet udp echo server (loops=%d, multicore=%t) listening on %s\n", es.loops, es.multicore, es.addr)
	return gnet.None
}

func (es *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	var port, loops int
	var host string
	flag.IntVar(&port, "port", 9000, "UDP port")
	flag.IntVar(&loops, "loops", 1, "number of event loops (multicore when > 1)")
	flag.StringVar(&host, "host", "127.0.0.1", "listen address")
	flag.Parse()
	if loops < 1 {
		loops = 1
	}

	es := &echoServer{addr: fmt.Sprintf("udp://%s:%d", host, port), multicore: loops > 1, loops: loops}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		if eng, ok := es.eng.Load().(gnet.Engine); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := eng.Stop(ctx); err == nil {
				return
			}
		}
		os.Exit(0)
	}()

	err := gnet.Run(es, es.addr,
		gnet.WithMulticore(loops > 1),
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(false),
	)
	if err != nil {
		log.Fatal(err)
	}
}
