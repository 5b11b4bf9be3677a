// SPDX-License-Identifier: MIT
// A Go program that writes a CPU profile (os.Args[1]) and a heap profile
// (os.Args[2]) of known work with runtime/pprof, standard library only, for
// tests/output/interop_go_corpus.sh: Go's own encoder, sample types ember does
// not write (alloc_space/bytes, inuse_objects/count, cpu/nanoseconds).
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var keep [][]byte

//go:noinline
func allocBig(n int) {
	for i := 0; i < n; i++ {
		keep = append(keep, make([]byte, 64<<10))
	}
}

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		keep = append(keep, make([]byte, 4<<10))
	}
}

//go:noinline
func spinA(d time.Duration) uint64 {
	var x uint64
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

//go:noinline
func spinB(d time.Duration) uint64 { return spinA(d/2) + spinA(d/2) }

func main() {
	cpu, _ := os.Create(os.Args[1])
	pprof.StartCPUProfile(cpu)
	spinA(300 * time.Millisecond)
	spinB(200 * time.Millisecond)
	pprof.StopCPUProfile()
	cpu.Close()
	allocBig(20)
	allocSmall(100)
	runtime.GC()
	heap, _ := os.Create(os.Args[2])
	pprof.WriteHeapProfile(heap)
	heap.Close()
}
