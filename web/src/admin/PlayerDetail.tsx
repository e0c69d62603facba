// One player for staff: profile and wallet, KYC status, manual adjustments and their payments.
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, ok, type Schemas } from "../api/client";
import { formatMoney, parseMoney } from "../money";
import { can } from "./access";
import { ActionStatus, Loading, formatTime, useAction, useLoad } from "./common";
import { DataGrid, gridColumns } from "./grid";

type Payment = Schemas["StaffPaymentOut"];
type Kyc = Schemas["KycIn"]["status"];
const KYC: readonly Kyc[] = ["unverified", "pending", "verified", "rejected"];

const col = gridColumns<Payment>();
const paymentColumns = col.columns([
  col.accessor("created_at", { header: "When", cell: (i) => formatTime(i.getValue()) }),
  col.accessor("direction", { header: "Direction" }),
  col.accessor("status", { header: "Status" }),
  col.accessor("amount", { header: "Amount", cell: (i) => formatMoney(i.getValue(), i.row.original.currency) }),
  col.accessor((p) => p.connector ?? "", { id: "connector", header: "Connector" }),
  col.accessor((p) => p.decline_code ?? "", { id: "decline", header: "Decline" }),
  col.accessor((p) => (p.card ? `${p.card.bin}…${p.card.last4}` : ""), { id: "card", header: "Card" }),
]);

export function PlayerDetail({ role }: { role: string }) {
  const { playerId = "" } = useParams();
  const player = useLoad(
    () => ok(api.GET("/api/v1/admin/players/{player_id}", { params: { path: { player_id: playerId } } })),
    [playerId],
  );
  const p = player.data;
  return (
    <section aria-labelledby="player-title">
      <p>
        <Link to="../players">← Players</Link>
      </p>
      {p === null ? (
        <Loading loaded={player} what="the player" />
      ) : (
        <>
          <h1 id="player-title">{p.email}</h1>
          <dl className="adm-facts">
            <dt>Player id</dt>
            <dd>
              <code>{p.id}</code>
            </dd>
            <dt>Country</dt>
            <dd>{p.country}</dd>
            <dt>Born</dt>
            <dd>{p.date_of_birth}</dd>
            <dt>Registered</dt>
            <dd>{formatTime(p.created_at)}</dd>
            <dt>KYC</dt>
            <dd>{p.kyc_status}</dd>
          </dl>
          <h2>Wallet</h2>
          <dl className="adm-facts">
            <dt>Cash</dt>
            <dd>{formatMoney(p.wallet.cash, p.wallet.currency)}</dd>
            <dt>Bonus</dt>
            <dd>{formatMoney(p.wallet.bonus, p.wallet.currency)}</dd>
            <dt>Reserved</dt>
            <dd>{formatMoney(p.wallet.reserved, p.wallet.currency)}</dd>
            <dt>Withdrawable</dt>
            <dd>{formatMoney(p.wallet.withdrawable, p.wallet.currency)}</dd>
          </dl>
          <div className="adm-cols">
            {can(role, "players.kyc") && (
              <KycForm playerId={p.id} current={p.kyc_status} onDone={() => void player.reload()} />
            )}
            {can(role, "players.adjust") && (
              <AdjustmentForm playerId={p.id} currency={p.currency} onDone={() => void player.reload()} />
            )}
          </div>
          {can(role, "players.payments") && <PlayerPayments playerId={p.id} />}
        </>
      )}
    </section>
  );
}

function KycForm({ playerId, current, onDone }: { playerId: string; current: Kyc; onDone: () => void }) {
  const [status, setStatus] = useState<Kyc>(current);
  const action = useAction();
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (
      await action.run(async () => {
        const answer = await ok(
          api.PUT("/api/v1/admin/players/{player_id}/kyc", {
            params: { path: { player_id: playerId } },
            body: { status },
          }),
        );
        return `KYC status is now ${answer.kyc_status}.`;
      })
    )
      onDone();
  }
  return (
    <form className="adm-panel adm-form" onSubmit={(e) => void submit(e)} aria-labelledby="kyc-title">
      <h2 id="kyc-title">Identity check (KYC)</h2>
      <label>
        KYC status
        <select value={status} onChange={(e) => setStatus(e.target.value as Kyc)}>
          {KYC.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={action.busy}>
        Set KYC status
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function AdjustmentForm({ playerId, currency, onDone }: { playerId: string; currency: string; onDone: () => void }) {
  const [direction, setDirection] = useState<"credit" | "debit">("credit");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const action = useAction();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const ok_ = await action.run(async (key) => {
      const minor = parseMoney(amount, currency);
      if (minor === null || minor === 0) throw new Error(`Give an amount in ${currency}, e.g. 10.50.`);
      if (!reason.trim()) throw new Error("Give a reason: adjustments are audited.");
      const signed = direction === "credit" ? minor : -minor;
      const answer = await ok(
        api.POST("/api/v1/admin/adjustments", {
          params: { header: { "idempotency-key": key } },
          body: { player_id: playerId, amount: signed, reason: reason.trim() },
        }),
      );
      return `${direction === "credit" ? "Credited" : "Debited"} ${formatMoney(minor, answer.currency)}; cash is now ${formatMoney(answer.balance_after, answer.currency)}.`;
    });
    if (ok_) {
      setAmount("");
      setReason("");
      onDone();
    }
  }
  return (
    <form className="adm-panel adm-form" onSubmit={(e) => void submit(e)} aria-labelledby="adj-title">
      <h2 id="adj-title">Manual adjustment</h2>
      <fieldset className="adm-segmented">
        <legend>Direction</legend>
        <label>
          <input type="radio" name="direction" checked={direction === "credit"} onChange={() => setDirection("credit")} />
          Credit
        </label>
        <label>
          <input type="radio" name="direction" checked={direction === "debit"} onChange={() => setDirection("debit")} />
          Debit
        </label>
      </fieldset>
      <label>
        Amount ({currency})
        <input inputMode="decimal" required value={amount} onChange={(e) => setAmount(e.target.value)} />
      </label>
      <label>
        Reason
        <input required maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <button type="submit" disabled={action.busy}>
        Apply adjustment
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function PlayerPayments({ playerId }: { playerId: string }) {
  const payments = useLoad(
    () =>
      ok(
        api.GET("/api/v1/admin/players/{player_id}/payments", {
          params: { path: { player_id: playerId }, query: { limit: 100 } },
        }),
      ),
    [playerId],
  );
  return (
    <section aria-labelledby="pp-title">
      <h2 id="pp-title">Payments</h2>
      <Loading loaded={payments} what="payments" />
      {payments.data && (
        <DataGrid caption="The player's payments" columns={paymentColumns} data={payments.data} filter getRowId={(p) => p.id} empty="No payments yet." />
      )}
    </section>
  );
}
