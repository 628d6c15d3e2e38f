"""Multilingual crowds for the simulator: per-language post texts and language mixes.

English texts are ``text.py``'s; this module holds the other languages: the eight with a
sentiment model (ar, de, es, fr, hi, it, pt, and en) and two without one (nl, tr), so a
scenario can send a crowd in a language the pipeline cannot judge (its posts must come out
``unknown``, not neutral). Each language has everyday posts per sentiment, the crisis
narratives (outage, recall, defect, breach) with that language's crisis words, launch and
launch-rush posts, and its own products, cities and durations. Brand mentions are the brand's
usual forms (name, @handle, #tag) plus the watchlist keywords of that language (an Arabic-script
name for ``ar``...). Hindi is mostly romanised (as Indian posts are), some Devanagari.

Every function takes the caller's ``random.Random``: same seed, same texts.

>>> import random
>>> from crisis_radar.simulate.watchlist import SimBrand
>>> b = SimBrand("acme", "Acme", ("acme",), ("acme",), ("acmehelp",), (), "tech", "desk")
>>> t = crisis_text(random.Random(1), "pt", b, "defect")
>>> isinstance(t, str) and len(t) > 10
True
>>> parse_mix("en=0.8,pt=0.2")
{'en': 0.8, 'pt': 0.2}
>>> parse_mix("pt")
{'pt': 1.0}
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crisis_radar.simulate import text as tx
from crisis_radar.simulate.watchlist import SimBrand

# Languages with a sentiment model (detectors.language.SUPPORTED) and two without one.
WITH_MODEL = ("ar", "de", "en", "es", "fr", "hi", "it", "pt")
WITHOUT_MODEL = ("nl", "tr")
LANGS = tuple(sorted(WITH_MODEL + WITHOUT_MODEL))


@dataclass(frozen=True)
class LangPack:
    products: dict[str, list[str]]  # brand group -> products
    default_products: list[str]
    cities: list[str]
    units: list[str]  # duration units: "3 dias"
    intens: list[str]
    background: dict[str, list[str]]  # sentiment -> templates
    narratives: dict[str, list[str]]  # outage, recall, defect, breach
    launch: list[str]
    rush: list[str]
    fillers: dict[str, list[str]]  # negative/positive interjections put before a post


FILLERS: dict[str, dict[str, list[str]]] = {
    "pt": {"negative": ["aff", "pqp", "que raiva", "socorro", "palhaçada", "de novo não"],
           "positive": ["kkkk", "amo", "top demais", "perfeito"]},
    "es": {"negative": ["uff", "qué rabia", "en serio", "otra vez no", "vergüenza"],
           "positive": ["jajaja", "top", "10/10", "qué maravilla"]},
    "de": {"negative": ["nervt", "echt jetzt?", "unfassbar", "schon wieder", "sauer"],
           "positive": ["haha", "mega", "top", "10/10"]},
    "fr": {"negative": ["sérieux", "franchement", "ras le bol", "encore ?!", "pfff", "la honte"],
           "positive": ["mdr", "top", "10/10", "trop bien"]},
    "it": {"negative": ["uffa", "ma dai", "che vergogna", "di nuovo?!", "assurdo", "basta"],
           "positive": ["ahah", "top", "10/10", "che bello"]},
    "ar": {"negative": ["يا ساتر", "حسبي الله", "مهزلة", "للأسف", "مرة ثانية؟!"],
           "positive": ["ههههه", "رهيب", "ما شاء الله"]},
    "hi": {"negative": ["yaar", "kya bakwaas hai", "bas karo", "phir se?!", "sharam karo"],
           "positive": ["haha", "mast", "zabardast", "10/10"]},
    "nl": {"negative": ["pff", "serieus", "alweer?!", "belachelijk", "echt niet normaal"],
           "positive": ["haha", "top", "10/10", "geweldig"]},
    "tr": {"negative": ["of ya", "yeter artık", "rezalet", "yine mi?!", "ciddi misiniz"],
           "positive": ["hahaha", "efsane", "10/10", "harika"]},
}  # fmt: skip


PACKS: dict[str, LangPack] = {
    "pt": LangPack(
        products={
            "telecom": ["plano 5G", "roteador", "fibra", "plano de dados", "chip", "sinal",
                        "internet", "fatura", "wi-fi", "aplicativo", "modem"],
            "food": ["pasta de amendoim", "granola", "cereal", "barrinha", "leite de aveia",
                     "biscoito", "pizza congelada", "iogurte", "salgadinho"],
            "tech": ["celular", "notebook", "fone", "smartwatch", "tablet", "aplicativo",
                     "carregador", "câmera", "caixa de som"],
        },
        default_products=["produto", "pedido", "aplicativo", "serviço", "conta", "entrega"],
        cities=["São Paulo", "Rio", "Belo Horizonte", "Lisboa", "Porto", "Recife", "Curitiba",
                "Salvador", "Fortaleza", "Porto Alegre"],
        units=["dias", "horas", "semanas"],
        intens=["muito", "super", "bem", "totalmente", "extremamente"],
        background={
            "negative": [
                "{b} meu pedido ainda não chegou depois de {d} {e}",
                "atendimento da {b} é uma vergonha, {n} minutos esperando {e}",
                "{b} cobrou duas vezes na minha fatura e ninguém resolve",
                "o {p} da {b} quebrou depois de {d} {e}",
                "cansei da {b}, serviço {x} ruim {e}",
                "{b} aumentou o preço de novo, que absurdo {e}",
            ],
            "neutral": [
                "alguém sabe se a {b} entrega em {city}?",
                "comprei um {p} da {b}, chega em {d}",
                "qual o telefone do suporte da {b}?",
                "vi um anúncio da {b} hoje em {city}",
                "{b} ou {c}, qual vocês recomendam?",
            ],
            "positive": [
                "amei o {p} da {b} {e}",
                "o atendimento da {b} resolveu tudo em {n} minutos {e}",
                "{b} nunca me decepciona {e}",
                "chegou antes do prazo, valeu {b} {e}",
                "{b} é {x} boa, recomendo {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} fora do ar em {city} {e}",
                "sem sinal há {d}, {b} {e}",
                "a {b} caiu de novo? ninguém consegue usar",
                "queda geral da {b}, não consigo trabalhar {e}",
                "rede da {b} totalmente fora do ar em {city}",
                "{d} sem internet por causa da {b} {e} #caiu",
                "{b} diz que está tudo normal. NÃO está",
                "pane na {b} de novo, quem vai pagar o prejuízo?",
            ],
            "recall": [
                "{b} recolhe {p} por contaminação {e}",
                "salmonela no {p} da {b}?! {e}",
                "meu filho comeu o {p} da {b} e passou mal {e}",
                "{b} sabia da contaminação e esperou {d}",
                "confiram a despensa, {p} da {b} recolhido {u}",
                "nunca mais compro {b} depois desse recall {e}",
            ],
            "defect": [
                "meu {p} da {b} superaqueceu e queimou minha mão {e}",
                "bateria do {p} da {b} estufou, é o defeito?",
                "{p} da {b} pegou fogo na mesa {e}",
                "o {p} da {b} tem defeito e eles sabiam",
                "{p} da {b} travou depois da atualização {e}",
                "{b} o {p} é perigoso, façam o recall logo",
                "milhares de {p} da {b} com defeito, processo coletivo? {u}",
                "tela do {p} da {b} rachou sozinha {e}",
            ],
            "breach": [
                "vazamento de dados da {b}: usaram meu cartão em {city} {e}",
                "{b} vazou nossos dados e ficou calada por {d}",
                "recebi o email do vazamento da {b}. senhas expostas?! {e}",
                "{b} foi hackeada, troquem suas senhas {u}",
                "não dá mais para confiar meus dados à {b} {e}",
                "golpes por SMS desde o vazamento da {b} {e}",
            ],
        },
        launch=["o novo {b} {new} chegou {e}", "acabei de pegar o {b} {new}!! {e}",
                "{b} {new} ficou {x} lindo {e}", "fiz a pré-venda do {b} {new} {e}"],
        rush=["{b} {new} esgotou em minutos de novo {e}",
              "site da {b} caiu bem na hora do lançamento do {new} {e}",
              "duas horas na fila da {b} pelo {new} e nada {e}"],
        fillers=FILLERS["pt"],
    ),
    "es": LangPack(
        products={
            "telecom": ["plan 5G", "router", "fibra", "plan de datos", "SIM", "señal",
                        "internet", "factura", "wifi", "app", "módem"],
            "food": ["mantequilla de maní", "granola", "cereal", "barritas", "leche de avena",
                     "galletas", "pizza congelada", "yogur", "papas fritas"],
            "tech": ["móvil", "portátil", "auriculares", "reloj inteligente", "tablet", "app",
                     "cargador", "cámara", "altavoz"],
        },
        default_products=["producto", "pedido", "app", "servicio", "cuenta", "envío"],
        cities=["Madrid", "Barcelona", "Ciudad de México", "Bogotá", "Buenos Aires", "Lima",
                "Sevilla", "Valencia", "Santiago"],
        units=["días", "horas", "semanas"],
        intens=["muy", "súper", "totalmente", "realmente"],
        background={
            "negative": [
                "{b} mi pedido sigue sin llegar después de {d} {e}",
                "el servicio al cliente de {b} es pésimo, {n} minutos esperando {e}",
                "{b} me cobró dos veces la factura y nadie responde",
                "mi {p} de {b} se rompió a los {d} {e}",
                "harto de {b}, un servicio {x} malo {e}",
                "{b} volvió a subir los precios, qué vergüenza {e}",
            ],
            "neutral": [
                "¿alguien sabe si {b} envía a {city}?",
                "pedí un {p} de {b}, llega en {d}",
                "¿cuál es el teléfono de atención de {b}?",
                "vi un anuncio de {b} hoy en {city}",
                "¿{b} o {c}? ¿cuál me recomiendan?",
            ],
            "positive": [
                "me encanta mi {p} de {b} {e}",
                "el soporte de {b} me lo resolvió en {n} minutos {e}",
                "{b} nunca falla {e}",
                "llegó antes de tiempo, gracias {b} {e}",
                "{b} es {x} buena, la recomiendo {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} caído en {city} {e}",
                "sin señal desde hace {d}, {b} {e}",
                "¿se cayó {b} otra vez? nadie puede conectarse",
                "caída total de {b}, no puedo trabajar {e}",
                "la red de {b} está muerta en {city}",
                "{d} sin internet por culpa de {b} {e} #caída",
                "{b} dice que todo funciona. NO funciona",
                "otra avería de {b}, ¿quién paga las pérdidas?",
            ],
            "recall": [
                "{b} retira su {p} por contaminación {e}",
                "¿salmonela en el {p} de {b}?! {e}",
                "mi hijo comió el {p} de {b} y se enfermó {e}",
                "{b} sabía de la contaminación y esperó {d}",
                "revisen la despensa, {p} de {b} retirado {u}",
                "nunca más compro {b} después de esta retirada {e}",
            ],
            "defect": [
                "mi {p} de {b} se sobrecalentó y me quemó la mano {e}",
                "la batería del {p} de {b} se hinchó, ¿es el defecto?",
                "el {p} de {b} se incendió en mi escritorio {e}",
                "el {p} de {b} viene defectuoso y lo sabían",
                "el {p} de {b} quedó bloqueado tras la actualización {e}",
                "{b} el {p} es peligroso, retírenlo ya",
                "miles de {p} de {b} fallando, ¿demanda colectiva? {u}",
                "la pantalla del {p} de {b} se rajó sola {e}",
            ],
            "breach": [
                "filtración de datos de {b}: usaron mi tarjeta en {city} {e}",
                "{b} filtró nuestros datos y calló durante {d}",
                "me llegó el correo de la filtración de {b}. ¿contraseñas expuestas?! {e}",
                "hackearon a {b}, cambien sus contraseñas {u}",
                "ya no puedo confiar mis datos a {b} {e}",
                "estafas por SMS desde la filtración de {b} {e}",
            ],
        },
        launch=["ya llegó el nuevo {b} {new} {e}", "¡acabo de comprar el {b} {new}! {e}",
                "el {b} {new} se ve {x} bien {e}", "reservé el {b} {new} {e}"],
        rush=["el {b} {new} se agotó en minutos otra vez {e}",
              "la web de {b} se cayó justo con el lanzamiento del {new} {e}",
              "dos horas en la cola de {b} por el {new} y nada {e}"],
        fillers=FILLERS["es"],
    ),
    "de": LangPack(
        products={
            "telecom": ["5G-Tarif", "Router", "Glasfaseranschluss", "Datentarif", "SIM-Karte",
                        "Empfang", "Internet", "Rechnung", "WLAN", "App", "Modem"],
            "food": ["Erdnussbutter", "Müsli", "Cornflakes", "Müsliriegel", "Haferdrink",
                     "Kekse", "Tiefkühlpizza", "Joghurt", "Chips"],
            "tech": ["Handy", "Laptop", "Kopfhörer", "Smartwatch", "Tablet", "App",
                     "Ladegerät", "Kamera", "Lautsprecher"],
        },
        default_products=["Produkt", "Bestellung", "App", "Service", "Konto", "Lieferung"],
        cities=["Berlin", "München", "Hamburg", "Köln", "Wien", "Zürich", "Frankfurt",
                "Stuttgart", "Leipzig"],
        units=["Tagen", "Stunden", "Wochen"],
        intens=["echt", "total", "extrem", "richtig", "wirklich"],
        background={
            "negative": [
                "{b} meine Bestellung ist nach {d} immer noch nicht da {e}",
                "der Kundenservice von {b} ist eine Katastrophe, {n} Minuten Warteschleife {e}",
                "{b} hat mir die Rechnung doppelt abgebucht und keiner antwortet",
                "mein {p} von {b} ist nach {d} kaputt {e}",
                "ich habe genug von {b}, {x} schlechter Service {e}",
                "{b} erhöht schon wieder die Preise, unverschämt {e}",
            ],
            "neutral": [
                "weiß jemand, ob {b} nach {city} liefert?",
                "hab bei {b} bestellt, soll in {d} kommen",
                "wie ist die Hotline von {b}?",
                "heute Werbung von {b} in {city} gesehen",
                "{b} oder {c}, was empfehlt ihr?",
            ],
            "positive": [
                "ich liebe mein {p} von {b} {e}",
                "der Support von {b} hat alles in {n} Minuten gelöst {e}",
                "{b} enttäuscht nie {e}",
                "schon heute geliefert, danke {b} {e}",
                "{b} ist {x} gut, klare Empfehlung {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} ist in {city} komplett ausgefallen {e}",
                "seit {d} kein Netz, {b} {e}",
                "ist {b} schon wieder down? nichts geht mehr",
                "Störung bei {b}, ich kann nicht arbeiten {e}",
                "das Netz von {b} ist in {city} tot",
                "seit {d} kein Internet wegen {b} {e} #störung",
                "laut {b} läuft alles. TUT ES NICHT",
                "schon wieder ein Ausfall bei {b}, wer zahlt den Schaden?",
            ],
            "recall": [
                "{b} ruft {p} wegen Verunreinigung zurück {e}",
                "Salmonellen in {p} von {b}?! {e}",
                "mein Kind hat {p} von {b} gegessen und ist krank {e}",
                "{b} wusste von der Verunreinigung und hat {d} gewartet",
                "checkt euren Vorrat, {p} von {b} zurückgerufen {u}",
                "nach diesem Rückruf kaufe ich nie wieder {b} {e}",
            ],
            "defect": [
                "mein {p} von {b} ist überhitzt und hat meine Hand verbrannt {e}",
                "der Akku von meinem {b} {p} bläht sich auf, ist das der Defekt?",
                "mein {b} {p} hat auf dem Schreibtisch Feuer gefangen {e}",
                "{b} {p} ist defekt und sie wussten es",
                "{b} {p} nach dem Update tot {e}",
                "{b} das Gerät ist gefährlich, ruft es endlich zurück",
                "tausende {b} Geräte fallen aus, Sammelklage? {u}",
                "Display von meinem {b} {p} einfach von selbst gesprungen {e}",
            ],
            "breach": [
                "Datenleck bei {b}: meine Karte wurde in {city} benutzt {e}",
                "{b} hat unsere Daten geleakt und {d} geschwiegen",
                "gerade die Mail zum Datenleck von {b} bekommen. Passwörter offen?! {e}",
                "{b} gehackt, ändert eure Passwörter {u}",
                "ich kann {b} meine Daten nicht mehr anvertrauen {e}",
                "Phishing-SMS seit dem Datenleck bei {b} {e}",
            ],
        },
        launch=["das neue {b} {new} ist da {e}", "hab gerade das {b} {new} bekommen!! {e}",
                "{b} {new} sieht {x} gut aus {e}", "{b} {new} vorbestellt {e}"],
        rush=["{b} {new} schon wieder in Minuten ausverkauft {e}",
              "die Seite von {b} ist genau zum Start vom {new} abgestürzt {e}",
              "zwei Stunden in der {b} Warteschlange für das {new} und nichts {e}"],
        fillers=FILLERS["de"],
    ),
    "fr": LangPack(
        products={
            "telecom": ["forfait 5G", "box", "fibre", "forfait data", "carte SIM", "réseau",
                        "internet", "facture", "wifi", "appli", "modem"],
            "food": ["beurre de cacahuète", "granola", "céréales", "barres de céréales",
                     "lait d'avoine", "biscuits", "pizza surgelée", "yaourt", "chips"],
            "tech": ["téléphone", "ordinateur portable", "écouteurs", "montre connectée",
                     "tablette", "appli", "chargeur", "appareil photo", "enceinte"],
        },
        default_products=["produit", "commande", "appli", "service", "compte", "livraison"],
        cities=["Paris", "Lyon", "Marseille", "Toulouse", "Bruxelles", "Montréal", "Lille",
                "Bordeaux", "Nantes"],
        units=["jours", "heures", "semaines"],
        intens=["vraiment", "super", "trop", "complètement", "très"],
        background={
            "negative": [
                "{b} ma commande n'est toujours pas arrivée après {d} {e}",
                "le service client de {b} est nul, {n} minutes d'attente {e}",
                "{b} m'a facturé deux fois et personne ne répond",
                "mon {p} {b} est cassé au bout de {d} {e}",
                "j'en ai marre de {b}, service {x} mauvais {e}",
                "{b} augmente encore ses prix, honteux {e}",
            ],
            "neutral": [
                "quelqu'un sait si {b} livre à {city} ?",
                "j'ai commandé chez {b}, livraison dans {d}",
                "c'est quoi le numéro du service client {b} ?",
                "vu une pub {b} aujourd'hui à {city}",
                "{b} ou {c}, vous conseillez quoi ?",
            ],
            "positive": [
                "j'adore mon {p} {b} {e}",
                "le support {b} a tout réglé en {n} minutes {e}",
                "{b} ne me déçoit jamais {e}",
                "livré en avance, merci {b} {e}",
                "{b} c'est {x} bien, je recommande {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} en panne à {city} {e}",
                "plus de réseau depuis {d}, {b} {e}",
                "{b} est encore en panne ? impossible de se connecter",
                "panne générale chez {b}, je ne peux pas travailler {e}",
                "le réseau {b} est complètement mort à {city}",
                "{d} sans internet à cause de {b} {e} #panne",
                "{b} dit que tout fonctionne. C'EST FAUX",
                "encore une panne {b}, qui paie les pertes ?",
            ],
            "recall": [
                "{b} rappelle son {p} pour contamination {e}",
                "salmonelle dans le {p} {b} ?! {e}",
                "mon fils a mangé le {p} {b} et il est malade {e}",
                "{b} savait pour la contamination et a attendu {d}",
                "vérifiez vos placards, {p} {b} rappelé {u}",
                "je n'achèterai plus jamais {b} après ce rappel {e}",
            ],
            "defect": [
                "mon {p} {b} a surchauffé et m'a brûlé la main {e}",
                "la batterie de mon {p} {b} a gonflé, c'est le défaut ?",
                "mon {p} {b} a pris feu sur mon bureau {e}",
                "le {p} {b} est défectueux et ils le savaient",
                "{p} {b} bloqué après la mise à jour {e}",
                "{b} cet appareil est dangereux, rappelez-le enfin",
                "des milliers de {p} {b} en panne, action collective ? {u}",
                "l'écran de mon {p} {b} s'est fissuré tout seul {e}",
            ],
            "breach": [
                "fuite de données chez {b} : ma carte a été utilisée à {city} {e}",
                "{b} a laissé fuiter nos données et s'est tu pendant {d}",
                "reçu le mail de la fuite de données {b}. mots de passe exposés ?! {e}",
                "{b} piraté, changez vos mots de passe {u}",
                "je ne peux plus confier mes données à {b} {e}",
                "des SMS d'arnaque depuis la fuite chez {b} {e}",
            ],
        },
        launch=["le nouveau {b} {new} est là {e}", "je viens d'avoir le {b} {new} !! {e}",
                "le {b} {new} est {x} beau {e}", "précommandé le {b} {new} {e}"],
        rush=["le {b} {new} encore en rupture en quelques minutes {e}",
              "le site {b} a planté pile au lancement du {new} {e}",
              "deux heures de file chez {b} pour le {new} et rien {e}"],
        fillers=FILLERS["fr"],
    ),
    "it": LangPack(
        products={
            "telecom": ["offerta 5G", "router", "fibra", "piano dati", "SIM", "segnale",
                        "internet", "bolletta", "wifi", "app", "modem"],
            "food": ["burro di arachidi", "granola", "cereali", "barrette", "latte d'avena",
                     "biscotti", "pizza surgelata", "yogurt", "patatine"],
            "tech": ["telefono", "portatile", "auricolari", "smartwatch", "tablet", "app",
                     "caricatore", "fotocamera", "cassa"],
        },
        default_products=["prodotto", "ordine", "app", "servizio", "account", "consegna"],
        cities=["Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze", "Palermo",
                "Genova", "Bari"],
        units=["giorni", "ore", "settimane"],
        intens=["davvero", "super", "proprio", "molto"],
        background={
            "negative": [
                "{b} il mio ordine non è ancora arrivato dopo {d} {e}",
                "il servizio clienti di {b} fa schifo, {n} minuti in attesa {e}",
                "{b} mi ha addebitato la bolletta due volte e nessuno risponde",
                "il mio {p} {b} si è rotto dopo {d} {e}",
                "basta con {b}, servizio {x} pessimo {e}",
                "{b} ha alzato di nuovo i prezzi, vergognoso {e}",
            ],
            "neutral": [
                "qualcuno sa se {b} consegna a {city}?",
                "ho ordinato da {b}, arriva tra {d}",
                "qual è il numero dell'assistenza {b}?",
                "visto una pubblicità di {b} oggi a {city}",
                "{b} o {c}, cosa mi consigliate?",
            ],
            "positive": [
                "adoro il mio {p} {b} {e}",
                "l'assistenza {b} ha risolto tutto in {n} minuti {e}",
                "{b} non delude mai {e}",
                "arrivato in anticipo, grazie {b} {e}",
                "{b} è {x} bravo, lo consiglio {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} non funziona a {city} {e}",
                "niente segnale da {d}, {b} {e}",
                "{b} è di nuovo giù? nessuno riesce a collegarsi",
                "guasto generale di {b}, non posso lavorare {e}",
                "la rete {b} è completamente morta a {city}",
                "{d} senza internet per colpa di {b} {e} #guasto",
                "{b} dice che va tutto bene. NON È VERO",
                "l'ennesimo disservizio {b}, chi paga i danni?",
            ],
            "recall": [
                "{b} richiama il {p} per contaminazione {e}",
                "salmonella nel {p} {b}?! {e}",
                "mio figlio ha mangiato il {p} {b} e sta male {e}",
                "{b} sapeva della contaminazione e ha aspettato {d}",
                "controllate la dispensa, {p} {b} richiamato {u}",
                "mai più {b} dopo questo richiamo {e}",
            ],
            "defect": [
                "il mio {p} {b} si è surriscaldato e mi ha bruciato la mano {e}",
                "la batteria del {p} {b} si è gonfiata, è il difetto?",
                "il {p} {b} ha preso fuoco sulla scrivania {e}",
                "il {p} {b} è difettoso e lo sapevano",
                "{p} {b} bloccato dopo l'aggiornamento {e}",
                "{b} questo dispositivo è pericoloso, ritiratelo subito",
                "migliaia di {p} {b} guasti, class action? {u}",
                "lo schermo del {p} {b} si è crepato da solo {e}",
            ],
            "breach": [
                "violazione dei dati {b}: hanno usato la mia carta a {city} {e}",
                "{b} ha perso i nostri dati e ha taciuto per {d}",
                "arrivata la mail sulla violazione dei dati {b}. password esposte?! {e}",
                "{b} hackerata, cambiate le password {u}",
                "non posso più fidarmi di {b} con i miei dati {e}",
                "sms truffa da quando c'è stata la violazione {b} {e}",
            ],
        },
        launch=["è arrivato il nuovo {b} {new} {e}", "ho appena preso il {b} {new}!! {e}",
                "il {b} {new} è {x} bello {e}", "preordinato il {b} {new} {e}"],
        rush=["{b} {new} esaurito in pochi minuti di nuovo {e}",
              "il sito {b} è crollato proprio al lancio del {new} {e}",
              "due ore in coda da {b} per il {new} e niente {e}"],
        fillers=FILLERS["it"],
    ),
    "ar": LangPack(
        products={
            "telecom": ["باقة 5G", "الراوتر", "الفايبر", "باقة البيانات", "الشريحة", "الشبكة",
                        "الإنترنت", "الفاتورة", "الواي فاي", "التطبيق"],
            "food": ["زبدة الفول السوداني", "الجرانولا", "حبوب الإفطار", "ألواح البروتين",
                     "حليب الشوفان", "البسكويت", "البيتزا المجمدة", "الزبادي", "الشيبس"],
            "tech": ["الجوال", "اللابتوب", "السماعات", "الساعة الذكية", "التابلت", "التطبيق",
                     "الشاحن", "الكاميرا"],
        },
        default_products=["المنتج", "الطلب", "التطبيق", "الخدمة", "الحساب", "التوصيل"],
        cities=["القاهرة", "الرياض", "دبي", "جدة", "عمان", "الدار البيضاء", "الكويت", "بيروت"],
        units=["أيام", "ساعات", "أسابيع"],
        intens=["جدا", "مرة", "للغاية"],
        background={
            "negative": [
                "{b} طلبي لم يصل بعد {d} {e}",
                "خدمة عملاء {b} سيئة جدا، انتظرت {n} دقيقة {e}",
                "{b} خصمت الفاتورة مرتين ولا أحد يرد",
                "{p} من {b} خرب بعد {d} {e}",
                "زهقت من {b}، خدمة سيئة {x} {e}",
                "{b} رفعت الأسعار مرة ثانية، شيء مخجل {e}",
            ],
            "neutral": [
                "أحد يعرف إذا {b} توصل إلى {city}؟",
                "طلبت {p} من {b}، يوصل خلال {d}",
                "ما هو رقم خدمة عملاء {b}؟",
                "شفت إعلان {b} اليوم في {city}",
                "{b} أو {c}، أيهما أفضل؟",
            ],
            "positive": [
                "أحب {p} من {b} {e}",
                "دعم {b} حل مشكلتي في {n} دقيقة {e}",
                "{b} ما تخذلني أبدا {e}",
                "وصل قبل الموعد، شكرا {b} {e}",
                "{b} ممتازة {x}، أنصح بها {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} واقعة في {city} {e}",
                "ما في شبكة من {d}، {b} {e}",
                "هل {b} معطلة عند أحد غيري؟",
                "انقطاع كامل في {b}، لا أستطيع العمل {e}",
                "شبكة {b} ميتة تماما في {city}",
                "{d} بدون إنترنت بسبب {b} {e} #انقطاع",
                "{b} تقول كل شيء يعمل. غير صحيح",
                "عطل جديد في {b}، من يدفع الخسارة؟",
            ],
            "recall": [
                "{b} تسحب {p} بسبب التلوث {e}",
                "سالمونيلا في {p} من {b}؟! {e}",
                "ابني أكل {p} من {b} وتعب {e}",
                "{b} كانت تعرف بالتلوث وانتظرت {d}",
                "افحصوا مطابخكم، سحب {p} من {b} {u}",
                "لن أشتري {b} مرة أخرى بعد هذا السحب {e}",
            ],
            "defect": [
                "{p} من {b} سخن جدا وحرق يدي {e}",
                "بطارية {p} من {b} انتفخت، هل هذا هو العيب؟",
                "{p} من {b} اشتعل على مكتبي {e}",
                "{p} من {b} معيب وهم كانوا يعرفون",
                "{p} من {b} توقف بعد التحديث {e}",
                "{b} الجهاز خطير، اسحبوه فورا",
                "آلاف الأجهزة من {b} معطلة، دعوى جماعية؟ {u}",
                "شاشة {p} من {b} انكسرت وحدها {e}",
            ],
            "breach": [
                "تسريب بيانات {b}: استخدموا بطاقتي في {city} {e}",
                "{b} سربت بياناتنا وسكتت {d}",
                "وصلني إيميل تسريب {b}. كلمات المرور مكشوفة؟! {e}",
                "اختراق {b}، غيروا كلمات المرور {u}",
                "لم أعد أثق في {b} ببياناتي {e}",
                "رسائل احتيال منذ تسريب بيانات {b} {e}",
            ],
        },
        launch=["وصل {b} {new} الجديد {e}", "اشتريت {b} {new} للتو!! {e}",
                "{b} {new} جميل {x} {e}", "حجزت {b} {new} {e}"],
        rush=["{b} {new} نفد خلال دقائق مرة ثانية {e}", "موقع {b} وقع وقت إطلاق {new} {e}",
              "ساعتين في طابور {b} على {new} وبلا فائدة {e}"],
        fillers=FILLERS["ar"],
    ),
    "hi": LangPack(
        products={
            "telecom": ["5G plan", "router", "fiber", "data pack", "sim", "network", "internet",
                        "bill", "wifi", "app"],
            "food": ["peanut butter", "namkeen", "cereal", "biscuit", "oats", "frozen pizza",
                     "dahi", "chips"],
            "tech": ["phone", "laptop", "earphones", "smartwatch", "tablet", "app", "charger",
                     "camera"],
        },
        default_products=["product", "order", "app", "service", "account", "delivery"],
        cities=["Delhi", "Mumbai", "Bangalore", "Pune", "Kolkata", "Hyderabad", "Jaipur",
                "Lucknow"],
        units=["din", "ghante", "hafte"],
        intens=["bahut", "ekdum", "bilkul", "kaafi"],
        background={
            "negative": [
                "{b} mera order {d} se nahi aaya yaar {e}",
                "{b} customer care bakwaas hai, {n} minute se hold pe hoon {e}",
                "{b} ne bill do baar kaat liya aur koi jawab nahi de raha",
                "mera {b} {p} {d} mein kharab ho gaya {e}",
                "{b} se pareshan ho gaya hoon bhai, service {x} bekaar {e}",
                "{b} की सर्विस बहुत खराब है, कोई जवाब नहीं देता {e}",
            ],
            "neutral": [
                "kisi ko pata hai {b} {city} mein deliver karta hai kya?",
                "{b} se {p} order kiya, {d} mein aayega",
                "{b} customer care ka number kya hai?",
                "aaj {city} mein {b} ka ad dekha",
                "{b} ya {c}, kaunsa lena chahiye?",
                "{b} का नया स्टोर {city} में खुला है",
            ],
            "positive": [
                "mujhe apna {b} {p} bahut pasand hai {e}",
                "{b} support ne {n} minute mein sab theek kar diya {e}",
                "{b} kabhi nirash nahi karta {e}",
                "time se pehle aa gaya, thanks {b} {e}",
                "{b} {x} mast hai bhai {e}",
                "{b} का {p} बहुत अच्छा है {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} {city} mein band pada hai {e}",
                "{d} se network nahi hai {b} {e}",
                "kya {b} phir se down hai? kuch nahi chal raha",
                "{b} ka network poora gaya, kaam nahi kar pa raha {e}",
                "{b} नेटवर्क {city} में पूरी तरह बंद है",
                "{d} se internet nahi hai {b} ki wajah se {e}",
                "{b} bol raha sab theek hai. bilkul nahi hai",
                "{b} phir se band, nuksaan kaun bharega?",
            ],
            "recall": [
                "{b} ne {p} wapas mangaya, milawat mili {e}",
                "{b} {p} mein salmonella?! {e}",
                "mere bachche ne {b} ka {p} khaya aur beemar ho gaya {e}",
                "{b} ko milawat ka pata tha aur {d} ruke rahe",
                "{b} के {p} में मिलावट, वापस मंगाया गया {u}",
                "is recall ke baad {b} kabhi nahi khareedunga {e}",
            ],
            "defect": [
                "mera {b} {p} garam hokar haath jala diya {e}",
                "{b} {p} ki battery phool gayi, yehi defect hai kya?",
                "{b} {p} mein desk pe aag lag gayi {e}",
                "{b} {p} kharab hai aur unhe pata tha",
                "update ke baad {b} {p} band ho gaya {e}",
                "{b} ka {p} khatarnak hai, wapas lo",
                "hazaron {b} {p} kharab, case karein kya? {u}",
                "{b} {p} की स्क्रीन अपने आप टूट गई {e}",
            ],
            "breach": [
                "{b} data leak: mera card {city} mein use hua {e}",
                "{b} ne hamara data leak kiya aur {d} chup rahe",
                "{b} data leak ka email aaya. password leak ho gaye kya?! {e}",
                "{b} hack ho gaya, apna password badlo {u}",
                "ab {b} pe data ke liye bharosa nahi {e}",
                "{b} data leak ke baad se fraud sms aa rahe hain {e}",
            ],
        },
        launch=["naya {b} {new} aa gaya {e}", "abhi {b} {new} liya!! {e}",
                "{b} {new} {x} mast lag raha hai {e}", "{b} {new} pre-order kar diya {e}"],
        rush=["{b} {new} phir se minuton mein sold out {e}",
              "{new} launch hote hi {b} ki site crash ho gayi {e}",
              "{b} {new} ke liye do ghante line mein, kuch nahi mila {e}"],
        fillers=FILLERS["hi"],
    ),
    "nl": LangPack(
        products={
            "telecom": ["5G-abonnement", "router", "glasvezel", "databundel", "simkaart",
                        "bereik", "internet", "rekening", "wifi", "app", "modem"],
            "food": ["pindakaas", "granola", "ontbijtgranen", "mueslirepen", "haverdrank",
                     "koekjes", "diepvriespizza", "yoghurt", "chips"],
            "tech": ["telefoon", "laptop", "oordopjes", "smartwatch", "tablet", "app",
                     "oplader", "camera", "speaker"],
        },
        default_products=["product", "bestelling", "app", "dienst", "account", "bezorging"],
        cities=["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Antwerpen",
                "Gent", "Groningen"],
        units=["dagen", "uur", "weken"],
        intens=["echt", "heel", "super", "ontzettend"],
        background={
            "negative": [
                "{b} mijn bestelling is na {d} nog steeds niet binnen {e}",
                "de klantenservice van {b} is waardeloos, {n} minuten in de wacht {e}",
                "{b} heeft mijn rekening dubbel afgeschreven en niemand reageert",
                "mijn {p} van {b} is na {d} kapot {e}",
                "ik ben {b} zat, {x} slechte service {e}",
                "{b} verhoogt alweer de prijzen, schandalig {e}",
            ],
            "neutral": [
                "weet iemand of {b} naar {city} bezorgt?",
                "besteld bij {b}, komt over {d}",
                "wat is het nummer van de klantenservice van {b}?",
                "vandaag een reclame van {b} gezien in {city}",
                "{b} of {c}, wat raden jullie aan?",
            ],
            "positive": [
                "ik ben dol op mijn {p} van {b} {e}",
                "de support van {b} had het in {n} minuten opgelost {e}",
                "{b} stelt nooit teleur {e}",
                "eerder bezorgd dan verwacht, bedankt {b} {e}",
                "{b} is {x} goed, aanrader {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} ligt eruit in {city} {e}",
                "al {d} geen bereik, {b} {e}",
                "ligt {b} er weer uit? niemand kan bellen",
                "storing bij {b}, ik kan niet werken {e}",
                "het netwerk van {b} is helemaal dood in {city}",
                "al {d} geen internet door {b} {e} #storing",
                "volgens {b} werkt alles. NIET DUS",
                "alweer een storing bij {b}, wie betaalt de schade?",
            ],
            "recall": [
                "{b} roept {p} terug wegens besmetting {e}",
                "salmonella in de {p} van {b}?! {e}",
                "mijn kind heeft de {p} van {b} gegeten en is ziek {e}",
                "{b} wist van de besmetting en wachtte {d}",
                "check je voorraadkast, {p} van {b} teruggeroepen {u}",
                "na deze terugroepactie koop ik nooit meer {b} {e}",
            ],
            "defect": [
                "mijn {p} van {b} werd oververhit en verbrandde mijn hand {e}",
                "de accu van mijn {p} van {b} zwelt op, is dit het defect?",
                "mijn {p} van {b} vloog in brand op mijn bureau {e}",
                "de {p} van {b} is defect en ze wisten het",
                "{p} van {b} doet niks meer na de update {e}",
                "{b} dit apparaat is gevaarlijk, roep het terug",
                "duizenden {p} van {b} kapot, massaclaim? {u}",
                "scherm van mijn {b} {p} is vanzelf gebarsten {e}",
            ],
            "breach": [
                "datalek bij {b}: mijn pas is gebruikt in {city} {e}",
                "{b} heeft onze gegevens gelekt en {d} gezwegen",
                "net de mail over het datalek van {b} gekregen. wachtwoorden op straat?! {e}",
                "{b} gehackt, verander je wachtwoorden {u}",
                "ik vertrouw {b} mijn gegevens niet meer toe {e}",
                "phishing sms'jes sinds het datalek bij {b} {e}",
            ],
        },
        launch=["de nieuwe {b} {new} is er {e}", "net de {b} {new} binnen!! {e}",
                "{b} {new} ziet er {x} goed uit {e}", "{b} {new} gepreorderd {e}"],
        rush=["{b} {new} weer binnen een paar minuten uitverkocht {e}",
              "site van {b} lag eruit precies bij de lancering van de {new} {e}",
              "twee uur in de rij bij {b} voor de {new} en niks {e}"],
        fillers=FILLERS["nl"],
    ),
    "tr": LangPack(
        products={
            "telecom": ["5G paketi", "modem", "fiber", "internet paketi", "SIM kart", "çekim",
                        "internet", "fatura", "wifi", "uygulama"],
            "food": ["fıstık ezmesi", "granola", "mısır gevreği", "bar", "yulaf sütü",
                     "bisküvi", "dondurulmuş pizza", "yoğurt", "cips"],
            "tech": ["telefon", "laptop", "kulaklık", "akıllı saat", "tablet", "uygulama",
                     "şarj aleti", "kamera", "hoparlör"],
        },
        default_products=["ürün", "sipariş", "uygulama", "hizmet", "hesap", "teslimat"],
        cities=["İstanbul", "Ankara", "İzmir", "Bursa", "Antalya", "Adana", "Konya"],
        units=["gün", "saat", "hafta"],
        intens=["çok", "gerçekten", "aşırı"],
        background={
            "negative": [
                "{b} siparişim {d} oldu hâlâ gelmedi {e}",
                "{b} müşteri hizmetleri rezalet, {n} dakikadır bekliyorum {e}",
                "{b} faturamı iki kez kesti ve kimse cevap vermiyor",
                "{b} {p} {d} içinde bozuldu {e}",
                "{b} artık yeter, hizmet {x} kötü {e}",
                "{b} yine zam yaptı, ayıp {e}",
            ],
            "neutral": [
                "{b} {city} için teslimat yapıyor mu bilen var mı?",
                "{b} üzerinden {p} sipariş ettim, {d} içinde gelecek",
                "{b} müşteri hizmetleri numarası nedir?",
                "bugün {city} sokaklarında {b} reklamı gördüm",
                "{b} mi {c} mi, hangisini önerirsiniz?",
            ],
            "positive": [
                "{b} {p} ürününe bayıldım {e}",
                "{b} destek ekibi {n} dakikada çözdü {e}",
                "{b} asla hayal kırıklığına uğratmıyor {e}",
                "erken geldi, teşekkürler {b} {e}",
                "{b} {x} iyi, tavsiye ederim {e}",
            ],
        },
        narratives={
            "outage": [
                "{b} {city} genelinde çöktü {e}",
                "{d} oldu çekmiyor, {b} {e}",
                "{b} yine mi çöktü? kimse bağlanamıyor",
                "{b} kesintisi yüzünden çalışamıyorum {e}",
                "{b} şebekesi {city} genelinde tamamen gitti",
                "{b} yüzünden {d} oldu internet yok {e} #kesinti",
                "{b} her şey normal diyor. DEĞİL",
                "yine {b} arızası, zararı kim ödeyecek?",
            ],
            "recall": [
                "{b} {p} ürününü toplatıyor, bulaşma var {e}",
                "{b} {p} içinde salmonella mı?! {e}",
                "çocuğum {b} {p} yedi ve hastalandı {e}",
                "{b} bulaşmayı biliyordu ve {d} bekledi",
                "dolabınızı kontrol edin, {b} {p} toplatılıyor {u}",
                "bu toplatmadan sonra bir daha {b} almam {e}",
            ],
            "defect": [
                "{b} {p} aşırı ısındı ve elimi yaktı {e}",
                "{b} {p} bataryası şişti, arıza bu mu?",
                "{b} {p} masamda alev aldı {e}",
                "{b} {p} arızalı ve biliyorlardı",
                "güncellemeden sonra {b} {p} açılmıyor {e}",
                "{b} bu cihaz tehlikeli, geri toplayın",
                "binlerce {b} {p} arızalı, toplu dava? {u}",
                "{b} {p} ekranı kendiliğinden çatladı {e}",
            ],
            "breach": [
                "{b} veri sızıntısı: kartım {city} şehrinde kullanılmış {e}",
                "{b} verilerimizi sızdırdı ve {d} sustu",
                "{b} sızıntı e-postası geldi. şifreler açıkta mı?! {e}",
                "{b} hacklendi, şifrelerinizi değiştirin {u}",
                "artık {b} şirketine verilerimi emanet edemem {e}",
                "{b} sızıntısından beri dolandırıcı sms geliyor {e}",
            ],
        },
        launch=["yeni {b} {new} çıktı {e}", "{b} {new} aldım sonunda!! {e}",
                "{b} {new} {x} güzel görünüyor {e}", "{b} {new} ön sipariş verdim {e}"],
        rush=["{b} {new} yine dakikalar içinde tükendi {e}",
              "{new} çıkar çıkmaz {b} sitesi çöktü {e}",
              "{b} {new} için iki saat sırada bekledim, hiçbir şey {e}"],
        fillers=FILLERS["tr"],
    ),
}  # fmt: skip


def parse_mix(spec: str) -> dict[str, float]:
    """``en=0.8,pt=0.2`` (or a bare ``pt``: all of it) -> {lang: weight}, weights summing to 1.

    Raises ValueError naming the bad part: unknown language, weight not a number >= 0, a
    language twice, or nothing left with a weight."""
    out: dict[str, float] = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        lang, sep, w = part.partition("=")
        lang = lang.strip().lower()
        if lang not in LANGS:
            raise ValueError(f"language {lang!r} in {spec!r}: known are {', '.join(LANGS)}")
        if lang in out:
            raise ValueError(f"language {lang!r} given twice in {spec!r}")
        try:
            weight = float(w) if sep else 1.0
        except ValueError:
            raise ValueError(f"weight {w!r} of {lang!r} in {spec!r} is not a number") from None
        if not weight >= 0:  # also NaN
            raise ValueError(f"weight of {lang!r} in {spec!r} must be >= 0")
        out[lang] = weight
    total = sum(out.values())
    if not out or total <= 0:
        raise ValueError(f"language mix {spec!r}: give at least one language with a weight > 0")
    return {k: round(v / total, 6) for k, v in out.items() if v > 0}


def pick(rng: random.Random, mix: dict[str, float]) -> str:
    """One language of ``mix``; one random number drawn whatever the mix (stable streams)."""
    u, acc, last = rng.random(), 0.0, "en"
    for lang, w in mix.items():
        acc += w
        last = lang
        if u < acc:
            return lang
    return last


def mention(rng: random.Random, brand: SimBrand, lang: str) -> str:
    """The brand as people of ``lang`` write it: its own keywords of that language (a
    transliteration, a local name) half of the time when the watchlist has some."""
    local = [t for lg, t in brand.lang_keywords if lg == lang]
    if local and rng.random() < 0.5:
        return rng.choice(local)
    return tx.mention(rng, brand)


def _fill(
    rng: random.Random,
    lang: str,
    template: str,
    brand: SimBrand,
    sentiment: str,
    competitor: SimBrand | None = None,
    new: str = "",
) -> str:
    pack = PACKS[lang]
    slots: dict[str, str] = {}
    for name in tx._slot_names(template):
        if name == "b":
            slots[name] = mention(rng, brand, lang)
        elif name == "c":
            slots[name] = mention(rng, competitor, lang) if competitor else "?"
        elif name == "p":
            slots[name] = rng.choice(pack.products.get(brand.group, pack.default_products))
        elif name == "city":
            slots[name] = rng.choice(pack.cities)
        elif name == "d":
            slots[name] = f"{rng.randint(2, 14)} {rng.choice(pack.units)}"
        elif name == "x":
            slots[name] = rng.choice(pack.intens)
        else:  # e, n, u, new, t: language-free
            slots[name] = tx._slot(rng, name, brand, sentiment, competitor, new)
    return template.format(**slots)


def _decorate(rng: random.Random, lang: str, text: str, sentiment: str, brand: SimBrand) -> str:
    """Surface noise in the post's language: case, an interjection, the brand's hashtag, a
    link, '!'."""
    fillers = PACKS[lang].fillers.get(sentiment)
    if fillers and rng.random() < 0.15:
        text = f"{rng.choice(fillers)} {text}"
    r = rng.random()
    if r < 0.06 and sentiment == "negative":
        text = text.upper()
    elif r < 0.2:
        text = text.lower()
    r = rng.random()
    if r < 0.12 and brand.hashtags:
        tag = rng.choice(brand.hashtags) if sentiment == "negative" else brand.hashtags[0]
        text = f"{text} #{tag}"
    elif r < 0.18:
        text = f"{text} {tx.url(rng)}"
    if rng.random() < 0.05 and "http" not in text[-30:]:
        text += "!" * rng.randint(1, 3)
    return " ".join(text.split())


def _competitor_ok(template: str, competitor: SimBrand | None) -> bool:
    return competitor is not None or "{c}" not in template


def background_text(
    rng: random.Random,
    lang: str,
    brand: SimBrand,
    sentiment: str,
    competitor: SimBrand | None = None,
) -> str:
    """An everyday post about the brand in ``lang`` with the given intended sentiment."""
    if lang == "en":
        return tx.background_text(rng, brand, sentiment, competitor)
    choices = [t for t in PACKS[lang].background[sentiment] if _competitor_ok(t, competitor)]
    tpl = rng.choice(choices)
    text = _fill(rng, lang, tpl, brand, sentiment, competitor)
    return _decorate(rng, lang, text, sentiment, brand)


def crisis_text(rng: random.Random, lang: str, brand: SimBrand, narrative: str) -> str:
    """A post of a crisis narrative (outage, recall, defect, breach) in ``lang``."""
    if lang == "en":
        return tx.crisis_text(rng, brand, narrative)
    if rng.random() < 0.15:  # plain complaints ride along, as in English
        return background_text(rng, lang, brand, "negative")
    tpl = rng.choice(PACKS[lang].narratives[narrative])
    text = _fill(rng, lang, tpl, brand, "negative")
    return _decorate(rng, lang, text, "negative", brand)


def launch_text(rng: random.Random, lang: str, brand: SimBrand, new: str) -> str:
    if lang == "en":
        return tx.launch_text(rng, brand, new)
    tpl = rng.choice(PACKS[lang].launch)
    text = _fill(rng, lang, tpl, brand, "positive", new=new)
    return _decorate(rng, lang, text, "positive", brand)


def launch_rush_text(rng: random.Random, lang: str, brand: SimBrand, new: str) -> str:
    if lang == "en":
        return tx.launch_rush_text(rng, brand, new)
    tpl = rng.choice(PACKS[lang].rush)
    text = _fill(rng, lang, tpl, brand, "negative", new=new)
    return _decorate(rng, lang, text, "negative", brand)


def narrative_words(lang: str, narrative: str) -> frozenset[str]:
    """Lower-cased words of a language's narrative templates (slots left out): what an
    alert on such a crisis may list as its terms."""
    words: set[str] = set()
    for tpl in PACKS[lang].narratives[narrative]:
        for w in tpl.replace("{", " {").split():
            w = w.strip(".,:;!?¿¡()\"'#").lower()
            if w and not w.startswith("{"):
                words.add(w)
    return frozenset(words)
