/**
 * What a get served from the shared directory costs in the client: lookup + pin + re-check + unpin, over a
 * real memfd mapped read-only (as clients will), against a Map lookup in the same run. Not part of
 * `bun run bench` yet: run `bun bench/shared-directory.ts [entries] [ops]`.
 */
import {
  createArenaFile,
  mapShared,
  reopenProcessFd,
  sealReadOnlyForOthers,
  viewOf,
} from "../src/ffi/index.ts";
import {
  AcquireStatus,
  DirectoryAcquirer,
  DirectoryHit,
  DirectoryReader,
  DirectoryWriter,
  directorySizeBytes,
  initPinTable,
  PinTable,
  pinTableSizeBytes,
} from "../src/protocol/shared-directory/index.ts";

const entries = Number(process.argv[2] ?? 10_000);
const ops = Number(process.argv[3] ?? 2_000_000);
const capacity = 1 << 15;

const file = createArenaFile({
  sizeBytes: directorySizeBytes(capacity),
  deferSeals: true,
  name: "bench-directory",
});
const writer = DirectoryWriter.create(
  viewOf(mapShared(file.fd, file.sizeBytes), 0, file.sizeBytes),
  capacity,
  1,
);
sealReadOnlyForOthers(file.fd);
const readOnlyFd = reopenProcessFd(process.pid, file.fd);
const reader = DirectoryReader.attach(
  viewOf(mapShared(readOnlyFd, file.sizeBytes, { readOnly: true }), 0, file.sizeBytes),
);
const pinBytes = pinTableSizeBytes(4096, 1024);
const pinFile = createArenaFile({ sizeBytes: pinBytes, name: "bench-pins" });
const pinRegion = viewOf(mapShared(pinFile.fd, pinFile.sizeBytes), 0, pinFile.sizeBytes);
initPinTable(pinRegion, 4096, 1024);
const acquirer = new DirectoryAcquirer(reader, PinTable.attach(pinRegion));

const ids = Array.from({ length: entries }, () => crypto.getRandomValues(new Uint8Array(20)));
const map = new Map<string, { offset: number; dataSize: number }>();
ids.forEach((id, i) => {
  writer.publish(id, i * 1024, 1024, 0);
  map.set(Buffer.from(id).toString("latin1"), { offset: i * 1024, dataSize: 1024 });
});
const keys = ids.map((id) => Buffer.from(id).toString("latin1"));

function timeNsPerOp(label: string, body: (i: number) => number): void {
  let sink = 0;
  for (let i = 0; i < ops / 10; i++) sink += body(i);
  const start = Bun.nanoseconds();
  for (let i = 0; i < ops; i++) sink += body(i);
  const nsPerOp = (Bun.nanoseconds() - start) / ops;
  console.log(`${label.padEnd(44)} ${nsPerOp.toFixed(1).padStart(8)} ns/op  (checksum ${sink % 1000})`);
}

const hit = new DirectoryHit();
const stride = 7919;
timeNsPerOp("directory lookup + pin + re-check + unpin", (i) => {
  if (acquirer.acquire(ids[(i * stride) % entries] as Uint8Array, hit) !== AcquireStatus.PINNED)
    throw new Error("miss");
  acquirer.release(acquirer.slot);
  return hit.dataSize;
});
timeNsPerOp("directory lookup only (seqlock)", (i) => {
  reader.find(ids[(i * stride) % entries] as Uint8Array, hit);
  return hit.dataSize;
});
timeNsPerOp(
  "Map.get of a latin1 key (same process)",
  (i) => map.get(keys[(i * stride) % entries] as string)?.dataSize ?? 0,
);
console.log(`${entries} entries in a ${capacity}-slot directory, ${ops} ops each, mapped read-only`);
