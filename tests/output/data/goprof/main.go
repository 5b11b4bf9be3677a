// SPDX-License-Identifier: MIT
// A Go program that writes a CPU profile (os.Args[1]) and a heap profile
// (os.Args[2]) of known work with runtime/pprof, standard library only, for
// tests/output/interop_go_corpus.sh: Go's own encoder, sample types ember does
// not write (alloc_space/bytes, inuse_objects/count, cpu/nanoseconds). With a
// third argument it also writes there an unsymbolized profile (addresses in a
// libc mapping, no functions), encoded here field by field; with a fourth, the
// heap profile in Go's legacy text format (debug=1), which ember must refuse.
package main

import (
	"bytes"
	"encoding/binary"
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

// pb appends protobuf fields to a message.
type pb struct{ bytes.Buffer }

func (b *pb) varint(field int, v uint64) {
	b.Write(binary.AppendUvarint(nil, uint64(field)<<3))
	b.Write(binary.AppendUvarint(nil, v))
}

func (b *pb) message(field int, m []byte) {
	b.Write(binary.AppendUvarint(nil, uint64(field)<<3|2))
	b.Write(binary.AppendUvarint(nil, uint64(len(m))))
	b.Write(m)
}

// unsymbolized writes a cpu/nanoseconds profile of three stacks in libc and
// ld.so, whose locations have addresses and no lines (as perf or an agent
// without symbols writes them).
func unsymbolized(path string) error {
	strs := []string{"", "samples", "count", "cpu", "nanoseconds",
		"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "main.caller"}
	var p pb
	for _, t := range [][2]uint64{{1, 2}, {3, 4}} {
		var m pb
		m.varint(1, t[0])
		m.varint(2, t[1])
		p.message(1, m.Bytes())
	}
	// location ids leaf first; values samples, ns
	for _, s := range []struct{ locs, vals []uint64 }{
		{[]uint64{1, 4}, []uint64{7, 70000000}},
		{[]uint64{2, 4}, []uint64{3, 30000000}},
		{[]uint64{3, 1, 4}, []uint64{2, 20000000}},
	} {
		var m pb
		for _, l := range s.locs {
			m.varint(1, l)
		}
		for _, v := range s.vals {
			m.varint(2, v)
		}
		p.message(2, m.Bytes())
	}
	for _, mp := range [][4]uint64{{1, 0x7f0000000000, 0x7f0000200000, 5}, {2, 0x7f1000000000, 0x7f1000040000, 6}} {
		var m pb
		m.varint(1, mp[0])
		m.varint(2, mp[1])
		m.varint(3, mp[2])
		m.varint(5, mp[3])
		p.message(3, m.Bytes())
	}
	for _, l := range [][3]uint64{{1, 1, 0x7f0000012340}, {2, 1, 0x7f0000023450}, {3, 2, 0x7f1000001230}} {
		var m pb
		m.varint(1, l[0])
		m.varint(2, l[1])
		m.varint(3, l[2])
		p.message(4, m.Bytes())
	}
	// location 4: a symbolized caller, so the stacks have a named root
	var loc, line, fn pb
	line.varint(1, 1)
	loc.varint(1, 4)
	loc.message(4, line.Bytes())
	p.message(4, loc.Bytes())
	fn.varint(1, 1)
	fn.varint(2, 7)
	p.message(5, fn.Bytes())
	for _, s := range strs {
		p.message(6, []byte(s))
	}
	var pt pb
	pt.varint(1, 3)
	pt.varint(2, 4)
	p.message(11, pt.Bytes())
	p.varint(12, 10000000)
	return os.WriteFile(path, p.Bytes(), 0o644)
}

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
	if len(os.Args) > 3 {
		if err := unsymbolized(os.Args[3]); err != nil {
			panic(err)
		}
	}
	if len(os.Args) > 4 {
		text, _ := os.Create(os.Args[4])
		pprof.Lookup("heap").WriteTo(text, 1)
		text.Close()
	}
}
