// Placeholder until its page is built (issue 13).
export  function WalletBadge() {
  return <p className="notice">WalletBadge is being built.</p>;
}
