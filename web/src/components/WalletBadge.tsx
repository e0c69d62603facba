// The header's cash balance: a link to the wallet, refreshed when money moves and every 15 seconds.
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import { api, ok, type Schemas } from "../api/client";
import { isStaff, useAuth } from "../auth";
import { formatMoney } from "../money";
import { useVisibleInterval, useWalletChanged } from "./walletEvents";
import "./WalletBadge.css";

export function WalletBadge() {
  const { me } = useAuth();
  // staff have no wallet
  return isStaff(me) ? null : <PlayerBalance />;
}

function PlayerBalance() {
  const [wallet, setWallet] = useState<Schemas["WalletOut"] | null>(null);

  const load = useCallback(() => {
    ok(api.GET("/api/v1/wallet")).then(setWallet, () => {
      // keep the last balance shown; the wallet page says what went wrong
    });
  }, []);

  useEffect(load, [load]);
  useWalletChanged(load);
  useVisibleInterval(load, 15_000);

  const text = wallet === null ? "Balance" : formatMoney(wallet.cash, wallet.currency);
  return (
    <Link to="/wallet" className="wallet-badge" aria-label={wallet === null ? "Wallet" : `Wallet: cash balance ${text}`}>
      {text}
    </Link>
  );
}
