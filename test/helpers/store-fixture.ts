/** The store-and-client fixture a test file shares: one store process and one connected client. */
import { afterAll, beforeAll, expect } from "bun:test";
import type { AdminClient } from "../../src/admin/client.ts";
import { type ConnectOptions, connect, type PlasmaClient } from "../../src/client/index.ts";
import { type AdminStoreOptions, startAdminStore } from "./admin-store.ts";
import { type StoreProcess, type StoreProcessOptions, startStoreProcess } from "./store-process.ts";

export interface StoreFixture {
  readonly store: StoreProcess;
  readonly client: PlasmaClient;
}

export interface AdminStoreFixture extends StoreFixture {
  /** An admin gRPC client of the store. */
  readonly admin: AdminClient;
  /** HOST:PORT of admin gRPC / HTTP as the store logged them. */
  readonly grpc: string;
  readonly http: string;
  /** The admin token (the one asked for, or the one the store generated); undefined with none. */
  readonly token: string | undefined;
  /** `authorization: Bearer TOKEN` for admin HTTP requests, plus `extra`. */
  headers(extra?: Record<string, string>): Record<string, string>;
}

export interface StoreFixtureOptions extends StoreProcessOptions {
  /** Options of the shared client's connect. */
  connect?: ConnectOptions;
}

function mustBeStarted<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is set up in beforeAll: use it inside a test`);
  return value;
}

/**
 * Call at the top level of a test file (or a describe): starts a store process and connects a client
 * before its tests; after them, disconnects the client and checks that the store exits cleanly.
 */
export function useStore(options: StoreFixtureOptions = {}): StoreFixture {
  let store: StoreProcess | undefined;
  let client: PlasmaClient | undefined;
  beforeAll(async () => {
    store = await startStoreProcess(options);
    client = await connect(store.socketPath, options.connect);
  });
  afterAll(async () => {
    await client?.disconnect();
    if (store !== undefined) expect(await store.stop()).toBe(0);
  });
  return {
    get store() {
      return mustBeStarted(store, "the store");
    },
    get client() {
      return mustBeStarted(client, "the client");
    },
  };
}

/** useStore with the admin plane on free loopback ports and an admin gRPC client. */
export function useAdminStore(options: AdminStoreOptions & StoreFixtureOptions = {}): AdminStoreFixture {
  let started: Awaited<ReturnType<typeof startAdminStore>> | undefined;
  let client: PlasmaClient | undefined;
  beforeAll(async () => {
    started = await startAdminStore(options);
    client = await connect(started.store.socketPath, options.connect);
  });
  afterAll(async () => {
    await client?.disconnect();
    if (started === undefined) return;
    started.admin.close();
    expect(await started.store.stop()).toBe(0);
  });
  const admin = () => mustBeStarted(started, "the admin store");
  return {
    get store() {
      return admin().store;
    },
    get client() {
      return mustBeStarted(client, "the client");
    },
    get admin() {
      return admin().admin;
    },
    get grpc() {
      return admin().grpc;
    },
    get http() {
      return admin().http;
    },
    get token() {
      return admin().token;
    },
    headers: (extra) => admin().headers(extra),
  };
}
