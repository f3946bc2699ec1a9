// Reads every message of MCAP files with Foxglove's own decoders (@mcap/core, @foxglove/rosmsg,
// @foxglove/rosmsg2-serialization) and prints one JSON line per message, so the Python tests can compare
// them with what was written. Usage: node verify_bag.mjs FILE.mcap [FILE.mcap ...]
// First line per file: {"file", "profile", "channels": [{topic, schema, schemaEncoding, messageEncoding,
// metadata}], "metadata": [{name, metadata}]}; then {"topic", "schema", "logTime", "message"} per message.
// uint8 arrays print as {"$b64": base64}, int64 beyond 2^53 as strings. Exit status 1 on any error.
import { open } from "node:fs/promises";

import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import lz4 from "@foxglove/wasm-lz4";
import zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader } from "@mcap/core";

await lz4.isLoaded;
await zstd.isLoaded;
const decompressHandlers = {
  lz4: (buffer, size) => new Uint8Array(lz4(buffer, Number(size))),
  zstd: (buffer, size) => new Uint8Array(zstd.decompress(buffer, Number(size))),
};

function canonical(value) {
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) {
    return { $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (ArrayBuffer.isView(value)) {
    return Array.from(value, canonical);
  }
  if (Array.isArray(value)) {
    return value.map(canonical);
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canonical(item)]));
  }
  return value;
}

async function verify(path) {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const readable = {
      size: async () => BigInt(size),
      read: async (offset, length) => {
        const buffer = new Uint8Array(Number(length));
        await handle.read(buffer, 0, Number(length), Number(offset));
        return buffer;
      },
    };
    const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
    const channels = [...reader.channelsById.values()].map((channel) => {
      const schema = reader.schemasById.get(channel.schemaId);
      return {
        topic: channel.topic,
        schema: schema?.name ?? "",
        schemaEncoding: schema?.encoding ?? "",
        messageEncoding: channel.messageEncoding,
        metadata: Object.fromEntries(channel.metadata),
      };
    });
    const metadata = [];
    for await (const record of reader.readMetadata()) {
      metadata.push({ name: record.name, metadata: Object.fromEntries(record.metadata) });
    }
    process.stdout.write(`${JSON.stringify({ file: path, profile: reader.header.profile, channels, metadata })}\n`);

    const decoders = new Map();
    for (const [id, schema] of reader.schemasById) {
      if (schema.encoding !== "ros2msg") {
        throw new Error(`${path}: schema ${schema.name} has encoding '${schema.encoding}', not ros2msg`);
      }
      const text = new TextDecoder().decode(schema.data);
      decoders.set(id, new MessageReader(parse(text, { ros2: true })));
    }
    for await (const message of reader.readMessages()) {
      const channel = reader.channelsById.get(message.channelId);
      if (channel.messageEncoding !== "cdr") {
        throw new Error(`${path}: channel ${channel.topic} has encoding '${channel.messageEncoding}'`);
      }
      const decoded = decoders.get(channel.schemaId).readMessage(message.data);
      const line = {
        topic: channel.topic,
        schema: reader.schemasById.get(channel.schemaId).name,
        logTime: message.logTime.toString(),
        message: canonical(decoded),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  } finally {
    await handle.close();
  }
}

try {
  for (const path of process.argv.slice(2)) {
    await verify(path);
  }
} catch (error) {
  process.stderr.write(`verify_bag: ${error.stack ?? error}\n`);
  process.exit(1);
}
