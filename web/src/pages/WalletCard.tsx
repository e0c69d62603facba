// The card fields a deposit and a withdrawal share, and the card as the API takes it.
import { useId } from "react";
import { formatCardNumber, type CardErrors, type CardForm } from "../components/card";

const MONTHS = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, "0"));

type Props = {
  card: CardForm;
  errors: CardErrors;
  onChange: (card: CardForm) => void;
  disabled?: boolean;
};

export function CardFields({ card, errors, onChange, disabled }: Props) {
  const id = useId();
  const thisYear = new Date().getFullYear();
  const years = Array.from({ length: 16 }, (_, i) => String(thisYear + i));
  const set = (field: keyof CardForm) => (e: { target: { value: string } }) =>
    onChange({ ...card, [field]: e.target.value });
  const described = (field: keyof CardForm, hint?: string) =>
    [errors[field] ? `${id}-${field}-error` : null, hint ?? null].filter(Boolean).join(" ") || undefined;
  const fieldError = (field: keyof CardForm) =>
    errors[field] ? (
      <p id={`${id}-${field}-error`} className="field-error">
        {errors[field]}
      </p>
    ) : null;

  return (
    <fieldset className="card-fields" disabled={disabled}>
      <legend>Card</legend>
      <label htmlFor={`${id}-number`}>Card number</label>
      <input
        id={`${id}-number`}
        type="text"
        inputMode="numeric"
        autoComplete="cc-number"
        placeholder="1234 5678 9012 3456"
        value={card.number}
        maxLength={23}
        onChange={set("number")}
        onBlur={() => {
          if (/^[\d\s-]*$/.test(card.number)) onChange({ ...card, number: formatCardNumber(card.number) });
        }}
        aria-invalid={errors.number ? true : undefined}
        aria-describedby={described("number")}
      />
      {fieldError("number")}
      <div className="row">
        <div>
          <label htmlFor={`${id}-month`}>Expiry month</label>
          <select
            id={`${id}-month`}
            autoComplete="cc-exp-month"
            value={card.month}
            onChange={set("month")}
            aria-invalid={errors.month ? true : undefined}
            aria-describedby={described("month")}
          >
            <option value="">MM</option>
            {MONTHS.map((m) => (
              <option key={m} value={String(Number(m))}>
                {m}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-year`}>Expiry year</label>
          <select
            id={`${id}-year`}
            autoComplete="cc-exp-year"
            value={card.year}
            onChange={set("year")}
            aria-invalid={errors.year ? true : undefined}
            aria-describedby={described("year")}
          >
            <option value="">YYYY</option>
            {years.map((y) => (
              <option key={y} value={y}>
                {y}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-cvc`}>Security code (CVC)</label>
          <input
            id={`${id}-cvc`}
            className="short"
            type="text"
            inputMode="numeric"
            autoComplete="cc-csc"
            maxLength={4}
            value={card.cvc}
            onChange={set("cvc")}
            aria-invalid={errors.cvc ? true : undefined}
            aria-describedby={described("cvc")}
          />
        </div>
      </div>
      {fieldError("month")}
      {fieldError("year")}
      {fieldError("cvc")}
      <label htmlFor={`${id}-holder`}>Name on card</label>
      <input
        id={`${id}-holder`}
        type="text"
        autoComplete="cc-name"
        maxLength={100}
        value={card.holder}
        onChange={set("holder")}
        aria-invalid={errors.holder ? true : undefined}
        aria-describedby={described("holder")}
      />
      {fieldError("holder")}
    </fieldset>
  );
}
