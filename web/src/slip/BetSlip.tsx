// Placeholder until its page is built (issue 13).
export  function BetSlip() {
  return <p className="notice">BetSlip is being built.</p>;
}
