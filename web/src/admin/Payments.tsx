// Payments: the connectors (circuit breaker, 24 h success, simulation switches), success rates, block list.
import { useMemo, useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../api/client";
import { ActionStatus, Loading, formatTime, useAction, useLoad } from "./common";
import { DataGrid, gridColumns } from "./grid";
import { percent } from "./rates";

type Connector = Schemas["ConnectorOut"];
type Rate = Schemas["RateOut"];
type Block = Schemas["BlockOut"];
type By = "connector" | "country" | "card_type";

const rateCol = gridColumns<Rate>();
const rateColumns = rateCol.columns([
  rateCol.accessor("key", { header: "Key" }),
  rateCol.accessor("attempts", { header: "Attempts" }),
  rateCol.accessor("approved", { header: "Approved" }),
  rateCol.accessor((r) => r.success_rate ?? -1, { id: "rate", header: "Success rate", cell: (i) => percent(i.row.original.success_rate) }),
]);

export function Payments() {
  const connectors = useLoad(async () => (await ok(api.GET("/api/v1/admin/payments/connectors"))).items, []);
  return (
    <section aria-labelledby="payments-title">
      <h1 id="payments-title">Payments</h1>
      <h2>Connectors</h2>
      <Loading loaded={connectors} what="connectors" />
      <div className="adm-cards">
        {(connectors.data ?? []).map((c) => (
          <ConnectorCard key={c.name} connector={c} onChange={() => void connectors.reload()} />
        ))}
      </div>
      <SuccessRates />
      <Blocks />
    </section>
  );
}

function ConnectorCard({ connector: c, onChange }: { connector: Connector; onChange: () => void }) {
  const [enabled, setEnabled] = useState(c.enabled);
  const [outage, setOutage] = useState(c.simulation?.outage ?? false);
  const [approval, setApproval] = useState(c.simulation?.approval_rate == null ? "" : String(c.simulation.approval_rate));
  const [latency, setLatency] = useState(c.simulation?.latency_ms == null ? "" : String(c.simulation.latency_ms));
  const action = useAction();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const done = await action.run(async () => {
      const body: Schemas["ConnectorPatch"] = { enabled };
      if (c.simulated) {
        const rate = approval.trim() === "" ? null : Number(approval);
        const ms = latency.trim() === "" ? null : Number(latency);
        if (rate !== null && !(rate >= 0 && rate <= 1)) throw new Error("The approval rate is a share from 0 to 1.");
        if (ms !== null && !(ms >= 0 && ms <= 60000)) throw new Error("The latency is 0 to 60000 ms.");
        body.simulation = { outage, approval_rate: rate, latency_ms: ms };
      }
      await ok(api.PATCH("/api/v1/admin/payments/connectors/{name}", { params: { path: { name: c.name } }, body }));
      return `${c.name} saved.`;
    });
    if (done) onChange();
  }
  return (
    <form className="adm-panel adm-form" onSubmit={(e) => void submit(e)} aria-labelledby={`conn-${c.name}`}>
      <h3 id={`conn-${c.name}`}>{c.name}</h3>
      <p>
        Breaker <span className={`adm-badge adm-breaker-${c.state}`}>{c.state}</span> · {c.enabled ? "enabled" : "disabled"}
        {c.simulated ? " · simulated" : ""}
      </p>
      <p>
        Last 24 h: {c.approved_24h} of {c.attempts_24h} approved ({percent(c.success_rate_24h)})
      </p>
      <label className="adm-check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      {c.simulated && (
        <fieldset>
          <legend>Simulation of {c.name}</legend>
          <label className="adm-check">
            <input type="checkbox" checked={outage} onChange={(e) => setOutage(e.target.checked)} />
            Outage
          </label>
          <label>
            Approval rate (0 to 1; empty: the connector's own)
            <input inputMode="decimal" value={approval} onChange={(e) => setApproval(e.target.value)} />
          </label>
          <label>
            Latency in ms (empty: the connector's own)
            <input inputMode="numeric" value={latency} onChange={(e) => setLatency(e.target.value)} />
          </label>
        </fieldset>
      )}
      <button type="submit" aria-label={`Save ${c.name}`} disabled={action.busy}>
        Save
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function SuccessRates() {
  const [by, setBy] = useState<By>("connector");
  const [hours, setHours] = useState(24);
  const rates = useLoad(
    async () => (await ok(api.GET("/api/v1/admin/payments/success-rates", { params: { query: { by, hours } } }))).items,
    [by, hours],
  );
  const rows = useMemo(() => rates.data ?? [], [rates.data]);
  return (
    <section aria-labelledby="rates-title">
      <h2 id="rates-title">Success rates</h2>
      <div className="adm-inline">
        <label>
          By
          <select value={by} onChange={(e) => setBy(e.target.value as By)}>
            <option value="connector">connector</option>
            <option value="country">issuer country</option>
            <option value="card_type">card type</option>
          </select>
        </label>
        <label>
          Over the last
          <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            <option value={1}>hour</option>
            <option value={24}>24 hours</option>
            <option value={168}>7 days</option>
          </select>
        </label>
      </div>
      <Loading loaded={rates} what="success rates" />
      <DataGrid caption={`Success rate by ${by.replace("_", " ")}`} columns={rateColumns} data={rows} getRowId={(r) => r.key} empty="No attempts in this period." />
    </section>
  );
}

function Blocks() {
  const blocks = useLoad(() => ok(api.GET("/api/v1/admin/payments/blocks")), []);
  const [kind, setKind] = useState<"bin" | "fingerprint">("bin");
  const [value, setValue] = useState("");
  const [reason, setReason] = useState("");
  const add = useAction();
  const remove = useAction();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const done = await add.run(async () => {
      await ok(api.POST("/api/v1/admin/payments/blocks", { body: { kind, value: value.trim(), reason: reason.trim() } }));
      return `Blocked ${kind} ${value.trim()}.`;
    });
    if (done) {
      setValue("");
      setReason("");
      void blocks.reload();
    }
  }
  const { run: runRemove, busy: removing } = remove;
  const { reload } = blocks;
  const data = useMemo(() => blocks.data ?? [], [blocks.data]);
  const columns = useMemo(() => {
  const col = gridColumns<Block>();
  return col.columns([
    col.accessor("kind", { header: "Kind" }),
    col.accessor("value", { header: "Value", cell: (i) => <code>{i.getValue()}</code> }),
    col.accessor("reason", { header: "Reason" }),
    col.accessor("created_at", { header: "Since", cell: (i) => formatTime(i.getValue()) }),
    col.display({
      id: "actions",
      header: "Actions",
      cell: (i) => (
        <button
          type="button"
          aria-label={`Unblock ${i.row.original.kind} ${i.row.original.value}`}
          disabled={removing}
          onClick={() =>
            void runRemove(async () => {
                const b = i.row.original;
                await ok(api.DELETE("/api/v1/admin/payments/blocks/{kind}/{value}", { params: { path: { kind: b.kind, value: b.value } } }));
                return `Unblocked ${b.kind} ${b.value}.`;
              })
              .then((done) => {
                if (done) void reload();
              })
          }
        >
          Unblock
        </button>
      ),
    }),
  ]);
  }, [runRemove, removing, reload]);
  return (
    <section aria-labelledby="blocks-title">
      <h2 id="blocks-title">Block list</h2>
      <form className="adm-inline" onSubmit={(e) => void submit(e)} aria-label="Block a card or BIN">
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as "bin" | "fingerprint")}>
            <option value="bin">BIN</option>
            <option value="fingerprint">card fingerprint</option>
          </select>
        </label>
        <label>
          Value
          <input required minLength={6} maxLength={32} value={value} onChange={(e) => setValue(e.target.value)} />
        </label>
        <label>
          Reason
          <input required maxLength={200} value={reason} onChange={(e) => setReason(e.target.value)} />
        </label>
        <button type="submit" disabled={add.busy}>
          Block
        </button>
      </form>
      <ActionStatus action={add} />
      <ActionStatus action={remove} />
      <Loading loaded={blocks} what="the block list" />
      <DataGrid caption="Blocked cards and BINs" columns={columns} data={data} filter getRowId={(b) => `${b.kind}:${b.value}`} empty="Nothing is blocked." />
    </section>
  );
}
