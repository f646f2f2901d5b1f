import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { parseCli, UsageError } from "../helpers/daemon.ts";

describe("--cluster-* flags", () => {
  test("without --cluster-etcd there is no cluster, whatever else is set", () => {
    expect(parseCli(["--cluster-name", "x"]).options.cluster).toBeUndefined();
    expect(parseCli([], { PLASMA_CLUSTER_TOKEN: "t" }).options.cluster).toBeUndefined();
  });

  test("defaults: cluster default, the hostname, 127.0.0.1:50052, TTL 10, no token, no TLS", () => {
    const cluster = parseCli(["--cluster-etcd", "http://10.0.0.5:2379,http://10.0.0.6:2379"]).options.cluster;
    expect(cluster).toEqual({
      etcd: "http://10.0.0.5:2379,http://10.0.0.6:2379",
      clusterName: "default",
      nodeName: hostname(),
      listen: { host: "127.0.0.1", port: 50052 },
      advertise: undefined,
      token: undefined,
      tls: null,
      leaseTtlS: 10,
    });
  });

  test("every flag, and its PLASMA_CLUSTER_* variable (flags win)", () => {
    const env = {
      PLASMA_CLUSTER_ETCD: "http://e:2379",
      PLASMA_CLUSTER_NAME: "prod",
      PLASMA_CLUSTER_NODE_NAME: "host-a",
      PLASMA_CLUSTER_LISTEN: "0.0.0.0:50052",
      PLASMA_CLUSTER_ADVERTISE: "10.0.0.11:50052",
      PLASMA_CLUSTER_TOKEN: "secret",
      PLASMA_CLUSTER_LEASE_TTL_S: "5",
    };
    const fromEnv = parseCli([], env).options.cluster;
    expect(fromEnv).toMatchObject({
      etcd: "http://e:2379",
      clusterName: "prod",
      nodeName: "host-a",
      listen: { host: "0.0.0.0", port: 50052 },
      advertise: "10.0.0.11:50052",
      token: "secret",
      leaseTtlS: 5,
    });
    const flags = parseCli(["--node-name", "host-b", "--cluster-listen", "127.0.0.1:0"], env).options.cluster;
    expect(flags).toMatchObject({ nodeName: "host-b", listen: { host: "127.0.0.1", port: 0 } });
  });

  test("a non-loopback listen without a token, bad names, addresses and TTLs are usage errors", () => {
    const etcd = ["--cluster-etcd", "http://e:2379"];
    expect(() => parseCli([...etcd, "--cluster-listen", "0.0.0.0:50052"])).toThrow(/--cluster-token/);
    expect(() => parseCli([...etcd, "--node-name", "bad/name"])).toThrow(UsageError);
    expect(() => parseCli([...etcd, "--cluster-name", ""])).toThrow(UsageError);
    expect(() => parseCli([...etcd, "--cluster-listen", "nowhere"])).toThrow(UsageError);
    expect(() => parseCli([...etcd, "--cluster-advertise", "x:99999"])).toThrow(UsageError);
    expect(() => parseCli([...etcd, "--cluster-lease-ttl-s", "1"])).toThrow(UsageError);
    expect(() => parseCli([...etcd, "--cluster-tls-cert", "/nonexistent"])).toThrow(UsageError);
    expect(() => parseCli(["--cluster-etcd", " , "])).toThrow(UsageError);
  });
});
