// SPDX-License-Identifier: MIT
// Decodes an ember pprof file with the npm pprof-format decoder and prints
// "total N", "samples N", "functions N", "hottest NAME" (leaf with the most
// samples) and the sample types, so the shell test can compare with ember.
// usage: node pprof_decode.mjs FILE.pb.gz
import { Profile } from "pprof-format";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

let buf = readFileSync(process.argv[2]);
if (buf[0] === 0x1f && buf[1] === 0x8b)
	buf = gunzipSync(buf);
const p = Profile.decode(buf);
const str = (i) => p.stringTable.strings[Number(i)];
const types = p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`);
const locs = new Map(p.location.map((l) => [String(l.id), l]));
const funcs = new Map(p.function.map((f) => [String(f.id), f]));
let total = 0n;
const flat = new Map();
for (const s of p.sample) {
	const v = BigInt(s.value[0]);
	total += v;
	const leaf = locs.get(String(s.locationId[0]));
	if (!leaf)
		throw new Error("sample names an unknown location");
	const name = leaf.line.length ? str(funcs.get(String(leaf.line[0].functionId)).name) : "?";
	flat.set(name, (flat.get(name) || 0n) + v);
}
let hottest = null;
for (const [name, v] of flat)
	if (hottest === null || v > flat.get(hottest))
		hottest = name;
console.log(`types ${types.join(",")}`);
console.log(`total ${total}`);
console.log(`samples ${p.sample.length}`);
console.log(`functions ${p.function.length}`);
console.log(`mappings ${p.mapping.length}`);
console.log(`hottest ${hottest}`);
