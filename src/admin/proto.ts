import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** admin.proto, shipped in the package's proto/ directory. */
export const ADMIN_PROTO_PATH = join(import.meta.dir, "../../proto/plasma/admin/v1/admin.proto");
export const ADMIN_SERVICE_NAME = "plasma.admin.v1.PlasmaAdmin";

/**
 * How messages map to JavaScript: camelCase fields, 64-bit integers as numbers (every size and time
 * fits below 2^53), enums as their names, bytes as Buffers, defaults filled in.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  oneofs: true,
};

/** admin.proto plus grpc.health.v1, in one definition so that server reflection lists both. */
export function loadAdminDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([ADMIN_PROTO_PATH, healthProtoPath], LOADER_OPTIONS);
}

export function adminServiceDefinition(definition: protoLoader.PackageDefinition): grpc.ServiceDefinition {
  const service = definition[ADMIN_SERVICE_NAME];
  if (service === undefined || "format" in service) {
    throw new Error(`${ADMIN_SERVICE_NAME} is missing from ${ADMIN_PROTO_PATH}`);
  }
  return service as grpc.ServiceDefinition;
}

/** A client constructor for PlasmaAdmin. */
export function adminClientConstructor(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(ADMIN_PROTO_PATH, LOADER_OPTIONS);
  return grpc.makeClientConstructor(adminServiceDefinition(definition), "PlasmaAdmin");
}
