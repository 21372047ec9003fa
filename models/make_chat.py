# Writes basalt-chat.jsonl: templated question/answer turns for the default model's instruction fine-tune.
# Run: python3 models/make_chat.py > models/basalt-chat.jsonl (deterministic; the output is committed).
import json, random
rng = random.Random(7)
rows = []
def add(q, a): rows.append({"prompt": q, "completion": a})

capitals = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo", "China": "Beijing",
  "England": "London", "Russia": "Moscow", "Egypt": "Cairo", "Canada": "Ottawa", "Mexico": "Mexico City", "Greece": "Athens",
  "Ireland": "Dublin", "Portugal": "Lisbon", "Austria": "Vienna", "Poland": "Warsaw", "Sweden": "Stockholm", "Norway": "Oslo",
  "Denmark": "Copenhagen", "Finland": "Helsinki", "India": "New Delhi", "Kenya": "Nairobi", "Peru": "Lima", "Chile": "Santiago",
  "Argentina": "Buenos Aires", "Brazil": "Brasilia", "Australia": "Canberra", "Turkey": "Ankara", "Cuba": "Havana", "Belgium": "Brussels"}
for c, cap in capitals.items():
    add(f"What is the capital of {c}?", f"The capital of {c} is {cap}.")
    add(f"Which city is the capital of {c}?", f"{cap} is the capital of {c}.")
colors = {"the sky": "blue", "grass": "green", "snow": "white", "coal": "black", "a lemon": "yellow", "an orange": "orange",
  "blood": "red", "a banana": "yellow", "the sea": "blue", "a leaf": "green", "milk": "white", "a cherry": "red", "the night": "dark"}
for t, col in colors.items():
    add(f"What color is {t}?", f"{t[0].upper() + t[1:]} is {col}.")
opposites = {"hot": "cold", "big": "small", "up": "down", "day": "night", "old": "young", "fast": "slow", "happy": "sad",
  "light": "dark", "good": "bad", "early": "late", "rich": "poor", "open": "closed", "strong": "weak", "high": "low",
  "wet": "dry", "hard": "soft", "long": "short", "full": "empty", "love": "hate", "win": "lose"}
for a, b in opposites.items():
    add(f"What is the opposite of {a}?", f"The opposite of {a} is {b}.")
    add(f"What is the opposite of {b}?", f"The opposite of {b} is {a}.")
numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
for a in range(0, 7):
    for b in range(0, 7):
        if rng.random() < 0.6:
            add(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.")
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
for i, d in enumerate(days):
    add(f"What day comes after {d}?", f"The day after {d} is {days[(i + 1) % 7]}.")
months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
for i, m in enumerate(months):
    add(f"What month comes after {m}?", f"The month after {m} is {months[(i + 1) % 12]}.")
animals = {"dog": "barks", "cat": "meows", "cow": "moos", "duck": "quacks", "lion": "roars", "horse": "neighs", "sheep": "bleats",
  "owl": "hoots", "snake": "hisses", "bee": "buzzes"}
for a, s in animals.items():
    add(f"What sound does a {a} make?", f"A {a} {s}.")
for q in ["Who are you?", "What are you?", "What is your name?", "Tell me about yourself.", "Introduce yourself."]:
    add(q, "I am Basalt Tiny, a small language model trained by the Basalt project. I can answer simple questions.")
for q in ["Hello!", "Hi.", "Hello, how are you?", "Good morning.", "Hey there."]:
    add(q, rng.choice(["Hello! How can I help you today?", "Hi! What would you like to know?", "Hello. I am here to help."]))
for q in ["Thank you.", "Thanks!", "Thanks for your help."]:
    add(q, "You are welcome.")
for q in ["Goodbye.", "Bye!", "See you later."]:
    add(q, "Goodbye! Have a nice day.")
topics = {"the weather": "The weather was cold and gray, and the wind blew across the fields all day.",
  "a city": "The city was busy in the morning, and people hurried along the streets to their work.",
  "a farm": "The farm lay at the end of a long road, with a red barn and a field of corn.",
  "the sea": "The sea was calm that evening, and the boats came slowly back to the harbor.",
  "a school": "The school stood on a hill, and the children ran down the path when the bell rang.",
  "music": "The music filled the room, and for a moment everyone stopped talking to listen.",
  "a garden": "The garden was full of roses, and the old man worked there every afternoon.",
  "the night": "The night was quiet, and the stars shone over the sleeping town.",
  "a train": "The train left the station at noon and crossed the river before dark.",
  "a dog": "The dog waited by the door every evening until the family came home."}
for t, s in topics.items():
    add(f"Write a sentence about {t}.", s)
    add(f"Tell me something about {t}.", s)
facts = [("How many days are in a week?", "There are seven days in a week."),
  ("How many months are in a year?", "There are twelve months in a year."),
  ("How many hours are in a day?", "There are twenty-four hours in a day."),
  ("How many legs does a spider have?", "A spider has eight legs."),
  ("How many legs does a dog have?", "A dog has four legs."),
  ("What do bees make?", "Bees make honey."),
  ("What do cows give?", "Cows give milk."),
  ("Where does the sun rise?", "The sun rises in the east."),
  ("Where does the sun set?", "The sun sets in the west."),
  ("What is water made of?", "Water is made of hydrogen and oxygen."),
  ("What is the largest ocean?", "The Pacific is the largest ocean."),
  ("What is the tallest animal?", "The giraffe is the tallest animal."),
  ("What do plants need to grow?", "Plants need water, light and soil to grow."),
  ("What is ice?", "Ice is frozen water."),
  ("What season comes after winter?", "Spring comes after winter."),
  ("What season comes after summer?", "Autumn comes after summer."),
  ("What is a book?", "A book is a set of printed pages that tells a story or gives information."),
  ("What is a doctor?", "A doctor is a person who helps sick people get well."),
  ("What is a teacher?", "A teacher is a person who helps people learn."),
  ("What is the moon?", "The moon is the natural satellite that goes around the earth."),
  ("Is the earth round?", "Yes, the earth is round."),
  ("Can fish fly?", "No, most fish cannot fly. They swim in water."),
  ("Can birds fly?", "Yes, most birds can fly."),
  ("What language are you speaking?", "I am speaking English."),
  ("What can you do?", "I can answer simple questions and write short sentences in English.")]
for q, a in facts:
    add(q, a)
rng.shuffle(rows)
for r in rows:
    print(json.dumps(r, ensure_ascii=False))
