/**
 * A client process for the surface tests: connects to the store at argv[2] (with `populate` when argv[3] is
 * "populate"), prints what the tests look at as one JSON line, and disconnects.
 */
import { readFileSync } from "node:fs";
import { connect } from "../../../src/client/index.ts";

const socketPath = process.argv[2] as string;
const populate = process.argv[3] === "populate";
const client = await connect(socketPath, { populate });
const status = readFileSync("/proc/self/status", "utf8");
const kB = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? Number.NaN);
console.log(
  JSON.stringify({
    capacityBytes: client.capacityBytes,
    rssShmemBytes: kB("RssShmem") * 1024,
    pollWindowUs: client.pollWindowUs,
  }),
);
await client.disconnect();
