// Validates custom resources (Strimzi, CloudNativePG) against the operators' CRD schemas.
//
// Input on stdin: a JSON array of Kubernetes documents. Output on stdout: one JSON object per
// document, {"index", "kind", "name", "errors": [...]}; an empty list means valid. Exit code 0.
//
// The schemas are the validators the npm packages @kubernetes-models/strimzi-kafka-operator and
// @kubernetes-models/cloudnative-pg generate from the operators' CRDs (each model's validate()).
// Those validators accept fields the schema does not declare, so this script is strict the way
// `kubeconform -strict` is: every object is wrapped in a Proxy that records which property names
// the validator looks up; a key of the document the validator never looked up, in an object where
// it looked up some, is an unknown field (a misspelling). Objects the validator does not look into
// (x-kubernetes-preserve-unknown-fields, such as a KafkaTopic's `config`) and maps it enumerates
// (additionalProperties, such as labels) are free-form, as in the CRD.
//
// A kind or apiVersion with no model is an error, never a skip.
import { readFileSync } from "node:fs";

const PACKAGES = {
  "kafka.strimzi.io": "@kubernetes-models/strimzi-kafka-operator",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
};

async function modelFor(apiVersion, kind) {
  const [group, version] = String(apiVersion).split("/");
  const pkg = PACKAGES[group];
  if (!pkg || !version) return null;
  let module;
  try {
    module = await import(`${pkg}/${group}/${version}`);
  } catch {
    return null;
  }
  const model = module[kind];
  return model && model.apiVersion === apiVersion && model.kind === kind ? model : null;
}

// Wrap `value` so that reads of object keys are recorded per JSON pointer.
function watch(value, pointer, seen) {
  if (value === null || typeof value !== "object") return value;
  const record = { read: new Set(), enumerated: false, keys: Array.isArray(value) ? [] : Object.keys(value) };
  if (!Array.isArray(value)) seen.set(pointer, record);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === "string" && !Array.isArray(target)) record.read.add(key);
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || child === null || typeof child !== "object") return child;
      if (!children.has(key)) children.set(key, watch(child, `${pointer}/${key}`, seen));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === "string" && !Array.isArray(target)) record.read.add(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function unknownFields(seen) {
  const errors = [];
  for (const [pointer, record] of seen) {
    if (record.enumerated || record.read.size === 0) continue;
    for (const key of record.keys) {
      if (!record.read.has(key)) errors.push(`${pointer || "/"}: unknown field "${key}"`);
    }
  }
  return errors;
}

const documents = JSON.parse(readFileSync(0, "utf8"));
for (const [index, document] of documents.entries()) {
  const kind = document?.kind;
  const name = document?.metadata?.name;
  const result = { index, kind, name, errors: [] };
  const model = await modelFor(document?.apiVersion, kind);
  if (model === null) {
    result.errors.push(`no CRD schema for ${kind} ${document?.apiVersion} in the npm packages`);
  } else {
    const seen = new Map();
    try {
      model.prototype.validate.call(watch(document, "", seen));
    } catch (error) {
      result.errors.push(error.message);
    }
    result.errors.push(...unknownFields(seen));
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}
